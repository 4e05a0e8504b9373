// SPDX-License-Identifier: Apache-2.0
// Everything the agent's loop owns and does: every `sample.interval` the sensors report into
// this object (a SampleSink), which offers each value to the metric rules and puts it in the
// batch; followed logs reach the log rules; signals and log events go into the batch's events
// part, which is flushed within `batch.event_delay` of a signal so that detection reaches the
// coordinator quickly; samples, and log events that came without a signal, flush every
// `batch.flush_interval`, the two batches in one spool transaction. Loop thread only.
#pragma once

#include <uv.h>

#include <csignal>
#include <functional>
#include <memory>
#include <vector>

#include <zmq.hpp>

#include "agent/config/agent_config.hpp"
#include "agent/detect/metric_rules.hpp"
#include "agent/link/batch_builder.hpp"
#include "agent/link/coordinator_link.hpp"
#include "agent/loop/acting.hpp"
#include "agent/loop/footprint.hpp"
#include "agent/loop/log_pipeline.hpp"
#include "agent/loop/sensors.hpp"
#include "shared/clock.hpp"
#include "shared/log/logging.hpp"
#include "shared/uv/signal_watch.hpp"

namespace medic::agent::loop {

class Agent final : private sample::SampleSink {
public:
  // `cursors`: where log files stopped last time (LogPipeline::load_cursors).
  [[nodiscard]] static Result<std::unique_ptr<Agent>> create(
      uv_loop_t& loop, const config::AgentConfig& config, link::Spool spool,
      link::LinkSettings settings, std::vector<tail::TailCursor> cursors, ActingState acting);
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  ~Agent() override;

  [[nodiscard]] Result<void> start();

  // What the service around the agent (ServiceControl) does on SIGHUP and when the agent stops.
  struct ServiceHooks {
    std::function<void()> reload;   // SIGHUP
    std::function<void()> stopping; // first thing stop() does
  };
  void set_service_hooks(ServiceHooks hooks) { m_service = std::move(hooks); }
  // Stops as SIGTERM does (a reload that passed its checks re-executes the agent after this).
  void stop_for_reload() noexcept { stop(SIGHUP); }

private:
  Agent(uv_loop_t& loop, const config::AgentConfig& config, link::Spool spool,
        link::LinkSettings settings, detect::MetricRules rules);

  void add(std::string_view name, double value, std::int64_t time_ms,
           std::span<const protocol::LabelView> labels) noexcept override;
  void error(std::string_view source, const Error& error) noexcept override;

  void add_signal(const protocol::SignalView& signal) noexcept;
  void add_log_event(const protocol::LogEventView& event) noexcept;
  [[nodiscard]] ActingHooks acting_hooks();
  // Adds an owned item (result, budget, evidence) to the events part, flushing when full.
  template <class Item, class Add>
  void add_event_item(Item item, Add add);
  void events_waiting() noexcept;
  void sample_round() noexcept;
  void report_footprint() noexcept;
  void release_run_once() noexcept; // release_startup_code, counted by m_release
  // flush_samples() and flush_events(true): what the flush timer (or a round) does.
  void flush_all() noexcept;
  // The flush timer, due a flush_interval (and the round's slack) from now.
  void start_flush_timer() noexcept;
  // Half a round when rounds come at least as often as flushes, else 0.
  [[nodiscard]] std::int64_t flush_slack_ms() const noexcept;
  void flush_samples() noexcept;
  // `with_cursors`: save the tail cursors with this batch (only outside a record's handling).
  void flush_events(bool with_cursors) noexcept;
  void stop(int signum) noexcept;

  uv_loop_t& m_loop;
  const config::AgentConfig& m_config;
  SystemClock m_clock;
  zmq::context_t m_zmq{1};
  Sensors m_sensors;
  detect::MetricRules m_rules;
  std::unique_ptr<LogPipeline> m_logs;
  std::unique_ptr<Acting> m_acting;
  link::BatchBuilder m_batch;
  link::CoordinatorLink m_link;
  Footprint m_footprint;
  ReleasePolicy m_release;
  uv::SignalWatch m_signals;
  ServiceHooks m_service;
  uv_timer_t m_sample_timer{};
  uv_timer_t m_flush_timer{};
  uv_timer_t m_event_timer{};
  uv_timer_t m_tick_timer{};
  detect::SignalOut m_signal_out;
  log::RateLimiter m_error_log_limit{5, 60'000};
  std::uint64_t m_round = 0;
  std::uint64_t m_ticks = 0;
  std::int64_t m_last_flush_ms = 0; // monotonic
  bool m_ship_round = true;
  bool m_stopping = false;
};

} // namespace medic::agent::loop
