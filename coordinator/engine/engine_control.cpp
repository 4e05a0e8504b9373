// SPDX-License-Identifier: Apache-2.0
// Engine: the once-a-second tick, and what operators ask through the admin socket
// (approvals, false-positive marks, manual actions, dry-run, status). Every operator action is
// audited with its actor.
#include <spdlog/spdlog.h>

#include "coordinator/engine/engine.hpp"

namespace medic::coordinator::engine {

namespace {

constexpr std::int64_t k_learned_every_ms = 60'000;
constexpr std::uint64_t k_forget_every_ticks = 240; // ticks are 250 ms

nlohmann::json rate_rows(const std::vector<learn::RateRow>& rows) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& row : rows) {
    list.push_back({{"name", row.name},
                    {"attempts", row.attempts},
                    {"successes", row.successes},
                    {"rate", row.rate()}});
  }
  return list;
}

} // namespace

void Engine::tick() noexcept {
  try {
    const std::int64_t now_ms = m_clock.now_unix_ms();
    for (const auto& event : m_correlator.tick(now_ms)) {
      on_incident_event(event, now_ms);
    }
    expire_commands(now_ms);
    expire_approvals(now_ms);
    if (m_maintenance.expire(now_ms)) { // a window ended or the freeze ran out
      maintenance_changed(now_ms);
    }
    expire_silences(now_ms); // a silence ended: what it held may be escalated now
    replan_held(now_ms);
    drain_escalations(now_ms);
    // What the correlator forgot (resolved past the reopen window) needs no work record;
    // a scan of them all, so once a minute.
    if (++m_ticks % k_forget_every_ticks == 0) {
      std::erase_if(m_work, [this](const auto& entry) {
        return m_correlator.find(entry.first) == nullptr && entry.second.in_flight.empty();
      });
    }
    if (now_ms - m_last_learned_save_ms >= k_learned_every_ms) {
      save_learned(now_ms);
    }
    flush(now_ms);
  } catch (const std::exception& e) {
    spdlog::error("engine: tick: {}", e.what());
  }
}

std::vector<ApprovalView> Engine::approvals() const {
  std::vector<ApprovalView> list;
  for (const auto& a : m_planner.pending()) {
    const correlate::Incident* incident = m_correlator.find(a.incident);
    list.push_back({a.id, a.incident, incident != nullptr ? incident->agent_id : "", a.host,
                    a.action, a.params, a.risk, a.reason, a.requested_ms, a.expires_ms});
  }
  return list;
}

Result<std::string> Engine::approve(std::uint64_t id, const std::string& actor) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  auto approval = m_planner.approve(id, actor, now_ms);
  m_last_learned_save_ms = 0; // the approval's new state is saved at the next tick
  if (!approval) {
    return fail(std::move(approval).error());
  }
  audit(approval->incident, now_ms, actor, "approved",
        "approval " + std::to_string(id) + " to run " + approval->action + " on " + approval->host +
            " given");
  const correlate::Incident* incident = m_correlator.find(approval->incident);
  if (incident == nullptr || incident->state != correlate::IncidentState::open) {
    return "approved, but incident " + std::to_string(approval->incident) +
           " is no longer open: nothing runs";
  }
  m_work[incident->id].approval_id = 0;
  return plan_recovery(*incident, now_ms);
}

Result<std::string> Engine::deny(std::uint64_t id, const std::string& actor) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  auto approval = m_planner.deny(id, actor, now_ms);
  m_last_learned_save_ms = 0;
  if (!approval) {
    return fail(std::move(approval).error());
  }
  Work& work = m_work[approval->incident];
  work.approval_id = 0;
  work.tried.push_back(approval->action); // a denied action is not proposed again for it
  audit(approval->incident, now_ms, actor, "denied",
        "approval " + std::to_string(id) + " to run " + approval->action + " on " + approval->host +
            " denied");
  return "denied: " + approval->action + " will not run for incident " +
         std::to_string(approval->incident);
}

Result<void> Engine::mark_false(correlate::IncidentId id, const std::string& actor) {
  const correlate::Incident* incident = m_correlator.find(id);
  if (incident == nullptr) {
    return fail(ErrorCode::not_found, "incident " + std::to_string(id) +
                                          " is not open or recently resolved (older incidents "
                                          "cannot be marked)");
  }
  Work& work = m_work[id];
  if (!work.false_positive) {
    work.false_positive = true;
    m_learner.effectiveness().marked_false();
  }
  const std::int64_t now_ms = m_clock.now_unix_ms();
  audit(id, now_ms, actor, "false-positive", "marked as a false positive");
  save(*incident);
  return {};
}

Result<std::string> Engine::run_manual(const ManualAction& action, const std::string& actor) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  std::string agent_id;
  for (const auto& [id, labels] : m_fleet.agents()) {
    const AgentView* view = m_fleet.find(id);
    if (id == action.host_or_agent || (view != nullptr && view->host == action.host_or_agent)) {
      agent_id = id;
      break;
    }
  }
  const AgentView* view = m_fleet.find(agent_id);
  if (agent_id.empty() || view == nullptr || !view->greeted) {
    return fail(ErrorCode::not_found, "no connected agent is host or agent '" +
                                          action.host_or_agent + "' (medicctl agents)");
  }
  const bool known = std::any_of(view->catalog.begin(), view->catalog.end(),
                                 [&](const auto& a) { return a.name == action.action; });
  if (!known) {
    return fail(ErrorCode::invalid_argument, "agent " + agent_id + " has no action '" +
                                                 action.action +
                                                 "' in its catalog (medicctl agent show)");
  }
  diagnose::Candidate candidate;
  candidate.action = action.action;
  candidate.params = action.params;
  if (m_dry_run) {
    audit(action.incident_id, now_ms, actor, "dry-run",
          "dry-run: would run " + action.action + " on " + view->host);
    return "dry-run: would run " + action.action + " on " + view->host;
  }
  auto sent = send(agent_id, candidate, now_ms);
  if (!sent) {
    return fail(std::move(sent).error());
  }
  Recovery& recovery = m_in_flight[*sent];
  recovery.incident_id = action.incident_id;
  recovery.agent_id = agent_id;
  recovery.host = view->host;
  recovery.candidate = candidate;
  recovery.actor = actor;
  recovery.sent_ms = now_ms;
  audit(action.incident_id, now_ms, actor, "command",
        "manual: sent " + action.action + " to " + view->host + " as command " + *sent,
        {{"command", *sent}, {"action", action.action}});
  return "sent " + action.action + " to " + view->host + " (command " + *sent +
         "); the agent validates the parameters, see `medicctl actions " + agent_id + "`";
}

void Engine::set_dry_run(bool on, const std::string& actor) {
  if (m_dry_run != on) {
    m_dry_run = on;
    audit(0, m_clock.now_unix_ms(), actor, "dry-run",
          on ? "dry-run on: decisions are recorded, no command is sent"
             : "dry-run off: commands are sent again");
    spdlog::info("dry-run {} by {}", on ? "on" : "off", actor);
  }
}

nlohmann::json Engine::status() const {
  const auto figures = m_learner.effectiveness().figures();
  const auto& c = m_counters;
  nlohmann::json sinks = nlohmann::json::array();
  if (m_escalator) {
    for (const auto& sink : m_escalator->status()) {
      sinks.push_back({{"name", sink.name},
                       {"sent", sink.counters.sent},
                       {"failed", sink.counters.failed},
                       {"retried", sink.counters.retried},
                       {"dropped", sink.counters.dropped},
                       {"failed_deliveries", sink.failed.size()}});
    }
  }
  return {{"dry_run", m_dry_run},
          {"open_incidents", m_correlator.open_count()},
          {"recoveries_running", m_in_flight.size()},
          {"approvals_pending", m_planner.pending().size()},
          {"signals", c.signals},
          {"alerts", c.alerts},
          {"incidents_opened", c.incidents_opened},
          {"needs_review", c.needs_review},
          {"commands_sent", c.commands_sent},
          {"commands_not_sent", c.commands_failed_to_send},
          {"dry_run_decisions", c.dry_run_decisions},
          {"recoveries_succeeded", c.recoveries_succeeded},
          {"recoveries_failed", c.recoveries_failed},
          {"recoveries_timed_out", c.recoveries_timed_out},
          {"escalations", c.escalations},
          {"store_errors", c.store_errors},
          {"audit_lost", m_writes.lost()},
          {"signals_dropped", m_correlator.dropped()},
          {"mttd_ms", figures.mttd_ms},
          {"mttr_ms", figures.mttr_ms},
          {"automated_recovery_rate", figures.automated_recovery_rate},
          {"recovery_success_rate", figures.recovery_success_rate},
          {"escalation_rate", figures.escalation_rate},
          {"false_positive_rate", figures.false_positive_rate},
          {"per_action", rate_rows(figures.per_action)},
          {"per_risk", rate_rows(figures.per_risk)},
          {"sinks", std::move(sinks)},
          {"diagnosis_rules", m_rules.size()},
          {"diagnosis_rules_from", m_rules.origin()}};
}

} // namespace medic::coordinator::engine
