// SPDX-License-Identifier: Apache-2.0
#include "coordinator/metrics/coordinator_metrics.hpp"

#include "coordinator/engine/engine.hpp"
#include "coordinator/server/ingest_server.hpp"
#include "coordinator/server/zap_handler.hpp"
#include "shared/build_info.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::metrics {

namespace {

constexpr std::array<protocol::Severity, 5> k_severities = {
    protocol::Severity::critical, protocol::Severity::high, protocol::Severity::medium,
    protocol::Severity::low, protocol::Severity::info};

std::string severity_label(protocol::Severity severity) {
  return std::string(protocol::to_string(severity));
}

} // namespace

CoordinatorMetrics::CoordinatorMetrics(Registry& registry)
    : m_registry(registry),
      m_agents(registry.gauge("medic_agents",
                              "Agents heard from since the coordinator started, by state: live, "
                              "stale (silent for agents.stale_after) or lost (agents.lost_after)",
                              {"state"})),
      m_keys_enrolled(registry
                          .gauge("medic_agent_keys_enrolled",
                                 "CURVE public keys in the allowlist (enrolled, not revoked)")
                          .get()),
      m_ingest_messages(registry.counter("medic_ingest_messages_total",
                                         "Messages from agents other than batches, by type",
                                         {"type"})),
      m_batches(registry
                    .counter("medic_ingest_batches_total",
                             "Batches stored (duplicates of stored ones not included)")
                    .get()),
      m_samples(
          registry.counter("medic_ingest_samples_total", "Samples in the stored batches").get()),
      m_duplicates(registry
                       .counter("medic_ingest_duplicate_batches_total",
                                "Batches already stored (a resend): acked, not stored again")
                       .get()),
      m_decode_errors(registry.counter("medic_ingest_decode_errors_total",
                                       "Messages refused as malformed, by reason (the ERROR "
                                       "code the agent was sent)",
                                       {"reason"})),
      m_unauthorized(registry
                         .counter("medic_ingest_unauthorized_total",
                                  "Messages over a revoked key, or naming an agent id the key "
                                  "is not enrolled for")
                         .get()),
      m_refused_busy(registry
                         .counter("medic_ingest_refused_busy_total",
                                  "Messages not stored because the storage queue was full (not "
                                  "acked: the agent resends them)")
                         .get()),
      m_paused_total(registry
                         .counter("medic_ingest_pauses_total",
                                  "Times ingest stopped reading agents because storage.queue "
                                  "batches were waiting for the store")
                         .get()),
      m_paused(registry
                   .gauge("medic_ingest_paused",
                          "1 while ingest is not reading agents because storage is behind")
                   .get()),
      m_acks(registry.counter("medic_ingest_acks_total", "ACKs sent for stored batches").get()),
      m_replies_failed(registry
                           .counter("medic_ingest_replies_failed_total",
                                    "Replies to agents that could not be sent (the agent was "
                                    "gone or its queue full)")
                           .get()),
      m_storage_errors(
          registry
              .counter("medic_storage_errors_total", "HELLOs and batches the store failed to write")
              .get()),
      m_storage_queue(registry
                          .gauge("medic_storage_queue_batches",
                                 "Batches handed to the storage worker and not yet stored")
                          .get()),
      m_storage_queue_capacity(registry
                                   .gauge("medic_storage_queue_capacity_batches",
                                          "storage.queue: at this many waiting batches ingest "
                                          "stops reading agents")
                                   .get()),
      m_storage_jobs(registry
                         .gauge("medic_storage_worker_jobs",
                                "Jobs waiting in the storage worker's queue (batch groups, "
                                "HELLOs, engine write-behind, admin queries)")
                         .get()),
      m_storage_write_seconds(
          registry
              .histogram("medic_storage_write_seconds",
                         "Time one group of batches (one drain of the agent socket) took in "
                         "the store, on the storage worker",
                         latency_buckets())
              .get()),
      m_incidents(registry.gauge("medic_incidents",
                                 "Incidents held by the coordinator, by state (open, or resolved "
                                 "and still within the reopen window) and worst severity",
                                 {"state", "severity"})),
      m_incidents_opened(registry
                             .counter("medic_incidents_opened_total",
                                      "Incidents opened since the coordinator started")
                             .get()),
      m_signals(registry
                    .counter("medic_signals_total",
                             "Signals folded into incidents (from agents and Alertmanager)")
                    .get()),
      m_signals_dropped(registry
                            .counter("medic_signals_dropped_total",
                                     "Signals of a new fingerprint refused because "
                                     "correlation.max_open incidents were open")
                            .get()),
      m_commands(registry.counter("medic_commands_total",
                                  "Recovery decisions by outcome: sent to the agent, not sent "
                                  "(the agent was unreachable), or only logged in dry-run mode",
                                  {"outcome"})),
      m_recoveries(registry.counter("medic_recoveries_total",
                                    "Recoveries finished, by action and outcome (succeeded, or "
                                    "failed: refused, failed, or no RESULT in time)",
                                    {"action", "outcome"})),
      m_escalations(registry.counter(
          "medic_escalations_total",
          "Notifications per escalation sink by outcome: delivered, failed (retry budget spent), "
          "dropped (queue full or stopping), deduplicated (same state within repeat_interval); "
          "restarts at 0 when a reload rebuilds the sinks",
          {"sink", "outcome"})),
      m_escalation_retries(registry.counter("medic_escalation_retries_total",
                                            "Requests retried after a failed attempt, by sink",
                                            {"sink"})),
      m_escalation_queue(registry.gauge("medic_escalation_queue_notifications",
                                        "Notifications waiting in each sink's queue", {"sink"})),
      m_series_refused(registry
                           .counter("medic_metrics_series_refused_total",
                                    "Label sets not exported because their metric already had "
                                    "1000 series")
                           .get()) {
  registry
      .gauge("medic_build_info", "The running medic-coordinator's version (always 1)", {"version"})
      .with({build_info::k_version})
      .set(1);
  // Series that exist from the start, so a dashboard sees 0 rather than nothing.
  for (const char* state : {"live", "stale", "lost"}) {
    m_agents.with({state});
  }
  for (const char* type : {"hello", "heartbeat", "result"}) {
    m_ingest_messages.with({type});
  }
  for (const auto reason : server::k_malformed_reasons) {
    m_decode_errors.with({std::string(reason)});
  }
  for (const char* state : {"open", "resolved"}) {
    for (const auto severity : k_severities) {
      m_incidents.with({state, severity_label(severity)});
    }
  }
  for (const char* outcome : {"sent", "not_sent", "dry_run"}) {
    m_commands.with({outcome});
  }
}

void CoordinatorMetrics::collect(const MetricSources& sources) {
  collect_ingest(sources);
  collect_engine(sources);
  m_series_refused.mirror(m_registry.series_refused());
}

void CoordinatorMetrics::collect_ingest(const MetricSources& sources) {
  const auto& ingest = sources.ingest;
  const std::int64_t now_ms = sources.clock.monotonic_ms();
  double live = 0;
  double stale = 0;
  double lost = 0;
  for (const auto& [agent_id, peer] : ingest.peers()) {
    const std::int64_t silent_ms = now_ms - peer.last_contact_ms;
    if (silent_ms >= sources.lost_after.count()) {
      ++lost;
    } else if (silent_ms >= sources.stale_after.count()) {
      ++stale;
    } else {
      ++live;
    }
  }
  m_agents.with({"live"}).set(live);
  m_agents.with({"stale"}).set(stale);
  m_agents.with({"lost"}).set(lost);
  m_keys_enrolled.set(static_cast<double>(sources.zap.allowed()));

  const auto& c = ingest.counters();
  m_ingest_messages.with({"hello"}).mirror(c.hellos);
  m_ingest_messages.with({"heartbeat"}).mirror(c.heartbeats);
  m_ingest_messages.with({"result"}).mirror(c.results);
  m_batches.mirror(c.batches);
  m_samples.mirror(c.samples);
  m_duplicates.mirror(c.duplicates);
  for (std::size_t i = 0; i < server::k_malformed_reasons.size(); ++i) {
    m_decode_errors.with({std::string(server::k_malformed_reasons[i])})
        .mirror(c.malformed_by_reason[i]);
  }
  m_unauthorized.mirror(c.unauthorized);
  m_refused_busy.mirror(c.refused_busy);
  m_paused_total.mirror(c.paused);
  m_paused.set(ingest.paused() ? 1 : 0);
  m_acks.mirror(c.acks_sent);
  m_replies_failed.mirror(c.replies_failed);
  m_storage_errors.mirror(c.storage_errors);
  m_storage_queue.set(static_cast<double>(ingest.batches_waiting()));
  m_storage_queue_capacity.set(static_cast<double>(ingest.batches_bound()));
  m_storage_jobs.set(static_cast<double>(sources.storage_worker.queued()));
}

void CoordinatorMetrics::collect_engine(const MetricSources& sources) {
  const auto& engine = sources.engine;
  std::array<double, k_severities.size()> open{};
  std::array<double, k_severities.size()> resolved{};
  const auto count = [](std::array<double, k_severities.size()>& into,
                        const std::vector<correlate::Incident>& incidents) {
    for (const auto& incident : incidents) {
      const auto index = static_cast<std::size_t>(incident.severity);
      if (index < into.size()) {
        ++into[index];
      }
    }
  };
  count(open, engine.correlator().open_incidents());
  count(resolved, engine.correlator().resolved_incidents());
  for (std::size_t i = 0; i < k_severities.size(); ++i) {
    m_incidents.with({"open", severity_label(k_severities[i])}).set(open[i]);
    m_incidents.with({"resolved", severity_label(k_severities[i])}).set(resolved[i]);
  }
  const auto& c = engine.counters();
  m_incidents_opened.mirror(c.incidents_opened);
  m_signals.mirror(c.signals);
  m_signals_dropped.mirror(engine.correlator().dropped());
  m_commands.with({"sent"}).mirror(c.commands_sent);
  m_commands.with({"not_sent"}).mirror(c.commands_failed_to_send);
  m_commands.with({"dry_run"}).mirror(c.dry_run_decisions);
  const auto* escalator = engine.escalator();
  if (escalator == nullptr) {
    return;
  }
  for (const auto& sink : escalator->status()) {
    m_escalations.with({sink.name, "delivered"}).mirror(sink.counters.sent);
    m_escalations.with({sink.name, "failed"}).mirror(sink.counters.failed);
    m_escalations.with({sink.name, "dropped"}).mirror(sink.counters.dropped);
    m_escalations.with({sink.name, "deduplicated"}).mirror(sink.counters.deduplicated);
    m_escalation_retries.with({sink.name}).mirror(sink.counters.retried);
    m_escalation_queue.with({sink.name}).set(static_cast<double>(sink.queued));
  }
}

} // namespace medic::coordinator::metrics
