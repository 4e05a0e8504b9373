// SPDX-License-Identifier: Apache-2.0
// Engine: what it keeps across restarts — incidents and the audit trail (write-behind, one
// transaction a second), the learned state (a document a minute), and escalation outcomes
// turned into audit entries.
#include <spdlog/spdlog.h>

#include "coordinator/engine/engine.hpp"

namespace medic::coordinator::learn {

// The learned state's document form. Baselines are left out: they relearn in minutes, and at
// 100,000 series they would make the document large.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Posterior, alpha, beta, attempts, successes,
                                   consecutive_failures, recover_ms_total, last_update_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PosteriorRow, diagnosis, action, posterior)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ErrorPattern, fingerprint, rule, occurrences, first_seen_ms,
                                   last_seen_ms, actions_tried, recoveries, recovery_successes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RateRow, name, attempts, successes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EffectivenessState, opened, resolved, auto_recovered, escalated,
                                   marked_false, detect_samples, detect_ms_total, recover_samples,
                                   recover_ms_total, per_action, per_risk)

} // namespace medic::coordinator::learn

namespace medic::protocol {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Label, name, value)
} // namespace medic::protocol

namespace medic::coordinator::plan {

// The planner's document form: approvals (pending ones survive a restart and can still be
// approved), earned autonomy, cooldown levels and the per-action day counts, so a restart
// neither resets the backoff of a flapping target nor the daily limits.
NLOHMANN_JSON_SERIALIZE_ENUM(ApprovalState, {{ApprovalState::pending, "pending"},
                                             {ApprovalState::approved, "approved"},
                                             {ApprovalState::denied, "denied"},
                                             {ApprovalState::expired, "expired"},
                                             {ApprovalState::used, "used"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Approval, id, incident, host, diagnosis, action, params, risk,
                                   reason, requested_ms, expires_ms, state, decided_by, decided_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AutonomyRow, diagnosis, action, promoted, attempts_at_demotion)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CooldownRow, host, target, action, level, until_ms,
                                   last_success_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ActionStartsRow, action, starts_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PlannerSnapshot, approvals, autonomy, cooldowns, starts)

} // namespace medic::coordinator::plan

namespace medic::coordinator::engine {

namespace {

constexpr std::string_view k_learned_state = "learned";
constexpr std::size_t k_restore_resolved = 10'000;
constexpr std::int64_t k_replan_after_restart_ms = 5'000;

} // namespace

void Engine::flush(std::int64_t /*now_ms*/) noexcept {
  if (m_flush_in_flight || m_writes.waiting() == 0) {
    return;
  }
  auto writes = std::make_shared<PendingWrites>(m_writes.take());
  const bool queued = m_storage_worker.try_submit([this, writes]() -> uv::Worker::Completion {
    auto saved = m_store.save_incidents(writes->incidents, writes->audit);
    return [this, writes, saved = std::move(saved)]() mutable {
      m_flush_in_flight = false;
      if (!saved) {
        ++m_counters.store_errors;
        spdlog::error("engine: saving incidents and audit: {} (kept, retried in a second)",
                      saved.error().message());
        m_writes.put_back(std::move(*writes));
      }
    };
  });
  if (queued) {
    m_flush_in_flight = true;
  } else {
    m_writes.put_back(std::move(*writes)); // the worker is busy with batches: next second
  }
}

void Engine::save_learned(std::int64_t now_ms) noexcept {
  try {
    const auto snapshot = m_learner.snapshot();
    const nlohmann::json document = {{"posteriors", snapshot.posteriors},
                                     {"patterns", snapshot.patterns},
                                     {"effectiveness", snapshot.effectiveness},
                                     {"planner", m_planner.snapshot()},
                                     {"daily", daily_document()}};
    update_daily(snapshot.effectiveness, now_ms); // engine_daily.cpp
    auto text = std::make_shared<std::string>(
        document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    const bool queued =
        m_storage_worker.try_submit([this, text, now_ms]() -> uv::Worker::Completion {
          auto saved = m_store.put_engine_state(k_learned_state, *text, now_ms);
          return [this, saved = std::move(saved)] {
            if (!saved) {
              ++m_counters.store_errors;
              spdlog::error("engine: saving the learned state: {}", saved.error().message());
            }
          };
        });
    if (queued) {
      m_last_learned_save_ms = now_ms;
    }
  } catch (const std::exception& e) {
    spdlog::error("engine: saving the learned state: {}", e.what());
  }
}

nlohmann::json Engine::daily_document() const {
  return {{"day", m_daily_day}, {"base", m_daily_base}};
}

void Engine::restore_daily(const nlohmann::json& document) {
  try {
    m_daily_day = document.at("day").get<std::string>();
    m_daily_base = document.at("base").get<learn::EffectivenessState>();
  } catch (const std::exception& e) {
    // The day's figures then start again from now; the learned state is unaffected.
    spdlog::warn("engine: the stored daily baseline is refused ({}); today's figures restart",
                 e.what());
    m_daily_day.clear();
  }
}

void Engine::restore_planner(const plan::PlannerSnapshot& snapshot) {
  if (auto restored = m_planner.restore(snapshot); !restored) {
    spdlog::warn(
        "engine: the stored planner state is refused ({}); approvals and cooldowns "
        "start afresh",
        restored.error().message());
    return;
  }
  for (const auto& approval : snapshot.approvals) {
    if (approval.state == plan::ApprovalState::pending && m_work.contains(approval.incident)) {
      m_work[approval.incident].approval_id = approval.id; // `medicctl approve` still works
    }
  }
}

Result<void> Engine::restore() {
  if (auto maintenance = restore_maintenance(); !maintenance) {
    return maintenance;
  }
  auto next = m_store.max_incident_id();
  if (!next) {
    return fail(std::move(next).error().context("restoring incidents"));
  }
  // Every open incident, and the resolved ones that may still reopen.
  storage::IncidentQuery open;
  open.open_only = true;
  open.limit = m_config.correlation.max_open;
  storage::IncidentQuery recent;
  recent.since_ms = m_clock.now_unix_ms() - m_config.correlation.reopen_window.count();
  recent.limit = k_restore_resolved;
  std::vector<correlate::Incident> incidents;
  for (const auto& query : {open, recent}) {
    auto rows = m_store.list_incidents(query);
    if (!rows) {
      return fail(std::move(rows).error().context("restoring incidents"));
    }
    for (auto& row : *rows) {
      if (m_work.contains(row.incident.id)) {
        continue; // open and recent
      }
      Work& work = m_work[row.incident.id];
      work.escalated = row.escalated;
      work.false_positive = row.false_positive;
      incidents.push_back(std::move(row.incident));
    }
  }
  m_correlator.restore(std::move(incidents), *next + 1);
  // Open incidents are planned again once their agents had time to reconnect (their firing
  // signals are not sent twice, so nothing else would bring them back to the planner).
  const std::int64_t replan_at = m_clock.now_unix_ms() + k_replan_after_restart_ms;
  for (const auto& incident : m_correlator.open_incidents()) {
    if (incident.kind == correlate::IncidentKind::host) {
      schedule(incident.id, m_work[incident.id], replan_at);
    }
  }
  auto learned = m_store.get_engine_state(k_learned_state);
  if (!learned) {
    return fail(std::move(learned).error().context("restoring the learned state"));
  }
  if (*learned) {
    try {
      const auto document = nlohmann::json::parse(**learned);
      learn::LearnerSnapshot snapshot;
      document.at("posteriors").get_to(snapshot.posteriors);
      document.at("patterns").get_to(snapshot.patterns);
      document.at("effectiveness").get_to(snapshot.effectiveness);
      if (auto restored = m_learner.restore(snapshot); !restored) {
        return fail(std::move(restored).error().context("restoring the learned state"));
      }
      if (document.contains("daily")) {
        restore_daily(document.at("daily")); // engine_daily.cpp
      }
      if (document.contains("planner")) {
        restore_planner(document.at("planner").get<plan::PlannerSnapshot>());
      }
    } catch (const std::exception& e) {
      // A damaged document costs what was learned, not the coordinator's start.
      spdlog::warn("engine: the stored learned state is unreadable ({}); starting afresh",
                   e.what());
    }
  }
  if (auto silences = restore_silences(); !silences) { // engine_silences.cpp
    return silences;
  }
  spdlog::info("engine: {} open incidents restored, next incident id {}", m_correlator.open_count(),
               m_correlator.next_id());
  return {};
}

void Engine::drain_escalations(std::int64_t now_ms) {
  if (!m_escalator) {
    return;
  }
  for (const auto& outcome : m_escalator->drain_outcomes()) {
    if (outcome.repost) {
      continue; // re-posts keep Alertmanager's copy alive; not a new step of the incident
    }
    const std::string state(escalate::to_string(outcome.state));
    audit(outcome.incident_id, now_ms, "coordinator", "notified",
          outcome.delivered
              ? "delivered the " + state + " notification to " + outcome.sink + " (attempt " +
                    std::to_string(outcome.attempts) + ")"
              : "could not deliver the " + state + " notification to " + outcome.sink + " after " +
                    std::to_string(outcome.attempts) + " attempts: " + outcome.error,
          {{"sink", outcome.sink},
           {"delivered", outcome.delivered},
           {"http_status", outcome.http_status}});
  }
}

std::string Engine::diagnosis_json(const Work& work) const {
  if (!work.diagnosis) {
    return "{}";
  }
  const diagnose::Diagnosis& d = *work.diagnosis;
  nlohmann::json document = {{"rule", d.rule_id},
                             {"root_cause", d.root_cause},
                             {"probable_causes", d.probable_causes},
                             {"confidence", d.confidence},
                             {"automation", diagnose::to_string(d.automation)},
                             {"explanation", d.explanation},
                             {"attempts", work.attempts},
                             {"failed", work.failed},
                             {"tried", work.tried}};
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace medic::coordinator::engine
