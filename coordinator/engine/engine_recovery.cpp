// SPDX-License-Identifier: Apache-2.0
// Engine: planning a recovery for a diagnosed incident, sending the COMMAND, and verifying it
// by its RESULT (exit status and post-condition), then learning from it and trying the next
// candidate or escalating when it failed.
#include <spdlog/spdlog.h>

#include "coordinator/engine/engine.hpp"
#include "coordinator/storage/labels_json.hpp"

namespace medic::coordinator::engine {

namespace {

using plan::k_held_retry_ms;
constexpr std::size_t k_results_kept = 8; // per incident, for the escalation context

nlohmann::json decision_json(const plan::Decision& decision) {
  nlohmann::json ranking = nlohmann::json::array();
  for (const auto& ranked : decision.ranking) {
    ranking.push_back(
        {{"action", ranked.candidate.action},
         {"params", nlohmann::json::parse(storage::labels_to_json(ranked.candidate.params))},
         {"score", ranked.score},
         {"posterior_mean", ranked.posterior_mean},
         {"risk", ranked.risk},
         {"why", ranked.why}});
  }
  nlohmann::json dropped = nlohmann::json::array();
  for (const auto& d : decision.dropped) {
    dropped.push_back({{"action", d.action}, {"reason", d.reason}});
  }
  return {{"verdict", plan::to_string(decision.verdict)},
          {"reason", decision.reason},
          {"ranking", std::move(ranking)},
          {"dropped", std::move(dropped)},
          {"dry_run", decision.dry_run},
          {"earned_autonomy", decision.earned_autonomy}};
}

std::string params_text(const std::vector<protocol::Label>& params) {
  std::string text;
  for (const auto& p : params) {
    text += (text.empty() ? "" : " ") + p.name + "=" + p.value;
  }
  return text;
}

} // namespace

plan::PlanContext Engine::context_for(const correlate::Incident& incident, const Work& work) const {
  plan::PlanContext context = plan::RecoveryFlow::context(incident, work, m_correlator);
  if (const AgentView* view = m_fleet.find(incident.agent_id); view != nullptr && view->greeted) {
    context.catalog = &view->catalog;
    context.agent_connected = true;
  }
  return context;
}

std::string Engine::plan_recovery(const correlate::Incident& snapshot, std::int64_t now_ms) {
  // Events carry the incident as it was when they happened; plan on what it is now.
  const correlate::Incident* current = m_correlator.find(snapshot.id);
  const correlate::Incident& incident = current != nullptr ? *current : snapshot;
  Work& work = m_work[incident.id];
  if (!work.diagnosis && incident.state == correlate::IncidentState::open &&
      incident.kind == correlate::IncidentKind::host) {
    diagnose_incident(incident, now_ms); // restored after a restart: diagnose on today's view
  }
  switch (m_recovery.open(incident, work, !work.in_flight.empty())) {
  case plan::Opening::not_now: return "nothing to plan";
  case plan::Opening::flapping_gave_up:
    audit(incident.id, now_ms, "coordinator", "held",
          "not remediated: the incident is flapping (it opened and resolved too often); "
          "remediation stops and it is escalated");
    maybe_escalate(incident, now_ms);
    return "flapping: not remediated";
  case plan::Opening::flapping: return "flapping: not remediated";
  case plan::Opening::plan: break;
  }
  if (auto hold = maintenance_hold(incident, work, now_ms)) {
    std::string said = "held: " + *hold;
    if (said != work.last_decision) {
      audit(incident.id, now_ms, "coordinator", "held", "not remediated: " + *hold);
      work.last_decision = said;
    }
    m_maintenance_held.insert(incident.id); // planned again when the hold is lifted or ends
    return said;
  }
  if (const AgentView* view = m_fleet.find(incident.agent_id);
      incident.kind == correlate::IncidentKind::host && (view == nullptr || !view->greeted) &&
      !incident.agent_id.starts_with(k_alert_agent_prefix)) {
    // Its catalog is unknown until its HELLO (e.g. just after a coordinator restart): wait
    // rather than rank every candidate out as "not in the catalog" and escalate.
    schedule(incident.id, work, now_ms + k_held_retry_ms);
    return "held: the agent of host '" + incident.host +
           "' has not said HELLO since the coordinator started; decided again when it has";
  }
  const plan::Planned planned = m_recovery.decide(context_for(incident, work), work, now_ms);
  const plan::Decision& decision = planned.decision;
  if (planned.newly_said) { // a hold re-checked every few seconds is audited once
    audit(incident.id, now_ms, "coordinator", "decided", planned.said, decision_json(decision));
  }
  switch (planned.next) {
  case plan::NextStep::dispatch: return dispatch(incident, *decision.chosen, "coordinator", now_ms);
  case plan::NextStep::approval_failed:
    audit(incident.id, now_ms, "coordinator", "held",
          "could not file an approval: " + planned.approval_error);
    return planned.approval_error;
  case plan::NextStep::approval_requested: {
    const plan::Approval& approval = *planned.approval;
    ++m_counters.approvals_requested;
    m_last_learned_save_ms = 0; // the planner's state (with it) is saved at the next tick
    audit(incident.id, now_ms, "coordinator", "approval",
          "approval " + std::to_string(approval.id) + " requested to run " + approval.action +
              " on " + approval.host + " (risk " + approval.risk + "): " + approval.reason +
              "; run `medicctl approve " + std::to_string(approval.id) + "`");
    return "waiting for approval " + std::to_string(approval.id);
  }
  case plan::NextStep::approval_pending:
    return "waiting for approval " + std::to_string(planned.approval->id);
  case plan::NextStep::held: return "held: " + decision.reason;
  case plan::NextStep::escalate:
    maybe_escalate(incident, now_ms);
    return "escalated: " + decision.reason;
  case plan::NextStep::none: break;
  }
  return decision.reason;
}

std::string Engine::dispatch(const correlate::Incident& incident, const plan::Ranked& chosen,
                             const std::string& actor, std::int64_t now_ms) {
  Work& work = m_work[incident.id];
  const std::string what = chosen.candidate.action + "(" + params_text(chosen.candidate.params) +
                           ") on " + incident.host;
  if (m_dry_run) {
    ++m_counters.dry_run_decisions;
    work.tried.push_back(chosen.candidate.action); // the next decision moves on, as it would
    audit(incident.id, now_ms, actor, "dry-run", "dry-run: would run " + what);
    return "dry-run: would run " + what;
  }
  auto sent = send(incident.agent_id, chosen.candidate, now_ms);
  if (!sent) {
    ++m_counters.commands_failed_to_send;
    schedule(incident.id, work, now_ms + k_held_retry_ms);
    audit(incident.id, now_ms, actor, "held",
          "could not send " + what + ": " + sent.error().message() + "; retrying in 5 s");
    return "not sent: " + sent.error().message();
  }
  plan::Dispatched started = m_recovery.started(incident, work, chosen, now_ms);
  Recovery& recovery = m_in_flight[*sent];
  recovery.incident_id = incident.id;
  recovery.agent_id = incident.agent_id;
  recovery.host = incident.host;
  recovery.target = std::move(started.key.target);
  recovery.candidate = std::move(started.candidate);
  recovery.risk = std::move(started.risk);
  recovery.diagnosis_key = std::move(started.diagnosis_key);
  recovery.actor = actor;
  recovery.sent_ms = now_ms;
  work.in_flight = *sent;
  audit(
      incident.id, now_ms, actor, "command",
      "sent " + what + " as command " + *sent + " (attempt " + std::to_string(work.attempts) + ")",
      {{"command", *sent}, {"action", chosen.candidate.action}, {"risk", chosen.risk}});
  return "sent " + what + " (command " + *sent + ")";
}

Result<std::string> Engine::send(const std::string& agent_id, const diagnose::Candidate& candidate,
                                 std::int64_t now_ms) {
  protocol::Command command;
  // Unique across restarts: this coordinator's start time and a counter.
  command.id = "c" + std::to_string(m_started_ms) + "-" + std::to_string(m_next_command++);
  command.deadline_ms = now_ms + m_config.command_deadline.count();
  command.action = candidate.action;
  command.params = candidate.params;
  if (auto sent = m_sender.send_command(agent_id, command); !sent) {
    return fail(std::move(sent).error());
  }
  ++m_counters.commands_sent;
  return command.id;
}

void Engine::on_command_result(const std::string& agent_id, const protocol::CommandResult& result,
                               std::int64_t now_ms) {
  if (result.command_id.empty()) {
    return; // the agent's own healing: stored with the batch, shown by `medicctl actions`
  }
  const auto it = m_in_flight.find(result.command_id);
  if (it == m_in_flight.end() || it->second.agent_id != agent_id) {
    return; // answered already (a resent RESULT), or not ours
  }
  const plan::Verification verified = plan::verify(result.status, result.post_check);
  std::string why = std::string(protocol::to_string(result.status));
  if (!result.post_check.empty()) {
    why += ", post-condition " + result.post_check;
  }
  if (!result.rollback.empty()) {
    why += ", rolled back with " + result.rollback + " (" + result.rollback_status + ")";
  }
  if (!result.reason.empty()) {
    why += ": " + result.reason;
  }
  const bool needs_person = result.status == protocol::ResultStatus::needs_person;
  const correlate::IncidentId incident_id = it->second.incident_id;
  auto& results = m_work[incident_id].results;
  results.push_back(result);
  while (results.size() > k_results_kept) {
    results.pop_front();
  }
  finish_recovery(result.command_id, verified.success, why, verified.teaches, now_ms);
  if (needs_person) {
    m_work[incident_id].gave_up = true;
    if (const auto* incident = m_correlator.find(incident_id); incident != nullptr) {
      maybe_escalate(*incident, now_ms);
    }
  }
}

void Engine::finish_recovery(const std::string& command_id, bool success, const std::string& why,
                             bool learned, std::int64_t now_ms) {
  const auto it = m_in_flight.find(command_id);
  if (it == m_in_flight.end()) {
    return;
  }
  const Recovery recovery = std::move(it->second);
  m_in_flight.erase(it);
  Work& work = m_work[recovery.incident_id];
  work.in_flight.clear();
  // The planner, the learner (the pattern's and the effectiveness figures too) and the failures.
  const auto autonomy_changes = m_recovery.finished(
      work,
      {{recovery.incident_id, recovery.host, recovery.candidate.action, recovery.target},
       recovery.candidate,
       recovery.risk,
       recovery.diagnosis_key,
       recovery.sent_ms},
      success, learned, now_ms);
  const std::string text = recovery.candidate.action + " on " + recovery.host + " (command " +
                           command_id + ") " + (success ? "worked: " : "failed: ") + why;
  if (m_recovery_counter != nullptr) {
    m_recovery_counter->with({recovery.candidate.action, success ? "succeeded" : "failed"}).inc();
  }
  if (success) {
    ++m_counters.recoveries_succeeded;
    work.auto_recovered = recovery.actor == "coordinator";
  } else {
    ++m_counters.recoveries_failed;
  }
  nlohmann::json detail = {{"command", command_id}, {"success", success}};
  if (const auto* posterior =
          m_learner.find_posterior(recovery.diagnosis_key, recovery.candidate.action);
      posterior != nullptr && learned) {
    detail["learned_success"] = posterior->mean();
    detail["attempts"] = posterior->attempts;
  }
  audit(recovery.incident_id, now_ms, "agent:" + recovery.agent_id, success ? "verified" : "failed",
        text, std::move(detail));
  for (const auto& change : autonomy_changes) {
    audit(recovery.incident_id, now_ms, "coordinator", "autonomy", change.sentence);
  }
  if (const auto* incident = m_correlator.find(recovery.incident_id);
      incident != nullptr && !success) {
    maybe_escalate(*incident, now_ms);
    plan_recovery(*incident, now_ms); // the next candidate, or escalation when none is left
  }
  replan_held(now_ms); // a recovery slot freed up
}

void Engine::schedule(correlate::IncidentId id, Work& work, std::int64_t at_ms) {
  m_recovery.schedule(id, work, at_ms);
}

void Engine::replan_held(std::int64_t now_ms) {
  for (const correlate::IncidentId id : m_recovery.take_due(now_ms, m_work)) {
    const correlate::Incident* incident = m_correlator.find(id);
    if (incident != nullptr && incident->state == correlate::IncidentState::open) {
      plan_recovery(*incident, now_ms);
    }
  }
}

void Engine::expire_commands(std::int64_t now_ms) {
  std::vector<std::string> expired;
  for (const auto& [id, recovery] : m_in_flight) {
    if (now_ms - recovery.sent_ms > m_config.result_timeout.count()) {
      expired.push_back(id);
    }
  }
  for (const auto& id : expired) {
    ++m_counters.recoveries_timed_out;
    finish_recovery(
        id, false,
        "no RESULT within " + std::to_string(m_config.result_timeout.count() / 1000) + " s", true,
        now_ms);
  }
}

void Engine::expire_approvals(std::int64_t now_ms) {
  for (const auto& approval : m_planner.expired(now_ms)) {
    plan::RecoveryFlow::approval_expired(m_work[approval.incident]);
    audit(approval.incident, now_ms, "coordinator", "expired",
          "approval " + std::to_string(approval.id) + " to run " + approval.action + " on " +
              approval.host + " timed out: nobody approved it");
    if (const auto* incident = m_correlator.find(approval.incident); incident != nullptr) {
      maybe_escalate(*incident, now_ms);
    }
  }
}

} // namespace medic::coordinator::engine
