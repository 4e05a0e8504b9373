// SPDX-License-Identifier: Apache-2.0
// The coordinator's series (docs/metrics.md lists them). Figures other threads produce are
// updated where they happen: the storage worker observes each batch group's time in the store,
// the engine counts finished recoveries. What the loop owns (ingest's counters, the peers, the
// incidents, the queues, the sinks' counters) is copied into the registry by collect(), on the
// loop, when a scrape asks for it (metrics_server.hpp). This is the one part of metrics/ that
// reads the engine and ingest; the registry, the format and the server depend on shared/ only.
#pragma once

#include <array>
#include <chrono>

#include "coordinator/metrics/registry.hpp"
#include "shared/clock.hpp"

namespace medic::uv {
class Worker;
} // namespace medic::uv

namespace medic::coordinator {
namespace server {
class IngestServer;
class ZapHandler;
} // namespace server
namespace engine {
class Engine;
} // namespace engine
} // namespace medic::coordinator

namespace medic::coordinator::metrics {

struct MetricSources {
  const Clock& clock;
  const server::IngestServer& ingest;
  const server::ZapHandler& zap;
  const engine::Engine& engine;
  const uv::Worker& storage_worker;
  std::chrono::milliseconds stale_after; // agents.stale_after
  std::chrono::milliseconds lost_after;  // agents.lost_after
};

class CoordinatorMetrics {
public:
  // Start-up: registers every series in `registry` (which must outlive this object).
  explicit CoordinatorMetrics(Registry& registry);

  // For IngestServer::set_store_latency: observed on the storage worker's thread.
  [[nodiscard]] Histogram& storage_write_seconds() noexcept { return m_storage_write_seconds; }
  // For Engine::set_recovery_counter: {action, outcome}.
  [[nodiscard]] CounterFamily& recoveries() noexcept { return m_recoveries; }

  // Loop thread: copies what the loop owns into the registry. Never blocks (the storage
  // worker's queue length takes its mutex for a moment).
  void collect(const MetricSources& sources);

private:
  void collect_ingest(const MetricSources& sources);
  void collect_engine(const MetricSources& sources);

  Registry& m_registry;
  GaugeFamily& m_agents;
  Gauge& m_keys_enrolled;
  CounterFamily& m_ingest_messages;
  Counter& m_batches;
  Counter& m_samples;
  Counter& m_duplicates;
  CounterFamily& m_decode_errors;
  Counter& m_unauthorized;
  Counter& m_refused_busy;
  Counter& m_paused_total;
  Gauge& m_paused;
  Counter& m_acks;
  Counter& m_replies_failed;
  Counter& m_storage_errors;
  Gauge& m_storage_queue;
  Gauge& m_storage_queue_capacity;
  Gauge& m_storage_jobs;
  Histogram& m_storage_write_seconds;
  GaugeFamily& m_incidents;
  Counter& m_incidents_opened;
  Counter& m_signals;
  Counter& m_signals_dropped;
  CounterFamily& m_commands;
  CounterFamily& m_recoveries;
  CounterFamily& m_escalations;
  CounterFamily& m_escalation_retries;
  GaugeFamily& m_escalation_queue;
  Counter& m_series_refused;
};

} // namespace medic::coordinator::metrics
