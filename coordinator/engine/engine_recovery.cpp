// SPDX-License-Identifier: Apache-2.0
// Engine: planning a recovery for a diagnosed incident, sending the COMMAND, and verifying it
// by its RESULT (exit status and post-condition), then learning from it and trying the next
// candidate or escalating when it failed.
#include <spdlog/spdlog.h>

#include "coordinator/engine/engine.hpp"
#include "coordinator/storage/labels_json.hpp"

namespace medic::coordinator::engine {

namespace {

constexpr std::int64_t k_held_retry_ms = 5000;
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

// A verified outcome teaches something; a refusal or a dry run does not.
bool teaches(protocol::ResultStatus status) {
  return status == protocol::ResultStatus::succeeded || status == protocol::ResultStatus::failed ||
         status == protocol::ResultStatus::timed_out;
}

} // namespace

plan::PlanContext Engine::context_for(const correlate::Incident& incident, const Work& work) const {
  plan::PlanContext context;
  context.incident = incident;
  if (work.diagnosis) {
    context.diagnosis = *work.diagnosis;
  }
  if (const AgentView* view = m_fleet.find(incident.agent_id); view != nullptr && view->greeted) {
    context.catalog = &view->catalog;
    context.agent_connected = true;
  }
  // A fleet member is not held like a dependant: it waits for a person's approval (the
  // blast-radius guard), so an operator may still heal one host of the fleet.
  context.fleet_member = incident.link == correlate::LinkReason::fleet;
  context.inhibited = !context.fleet_member && m_correlator.inhibited(incident);
  context.attempts_so_far = work.attempts;
  context.tried_actions = work.tried;
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
  if (!work.diagnosis || !work.in_flight.empty() ||
      incident.state != correlate::IncidentState::open) {
    return "nothing to plan";
  }
  schedule(incident.id, work, 0);
  if (incident.flapping) {
    // Restarting a flapping target only feeds the loop: stop and let a person look.
    if (!work.gave_up) {
      work.gave_up = true;
      audit(incident.id, now_ms, "coordinator", "held",
            "not remediated: the incident is flapping (it opened and resolved too often); "
            "remediation stops and it is escalated");
      maybe_escalate(incident, now_ms);
    }
    return "flapping: not remediated";
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
  const auto context = context_for(incident, work);
  const plan::Decision decision = m_planner.decide(context, now_ms);
  std::string said = std::string(plan::to_string(decision.verdict)) + ": " + decision.reason;
  if (said != work.last_decision) { // a hold re-checked every few seconds is audited once
    audit(incident.id, now_ms, "coordinator", "decided", said, decision_json(decision));
    work.last_decision = std::move(said);
  }
  switch (decision.verdict) {
  case plan::Verdict::run: return dispatch(incident, *decision.chosen, "coordinator", now_ms);
  case plan::Verdict::await_approval: {
    auto approval = m_planner.request_approval(context, decision, now_ms);
    if (!approval) {
      audit(incident.id, now_ms, "coordinator", "held",
            "could not file an approval: " + approval.error().message());
      schedule(incident.id, work, now_ms + k_held_retry_ms);
      return approval.error().message();
    }
    if (work.approval_id != approval->id) {
      ++m_counters.approvals_requested;
      m_last_learned_save_ms = 0; // the planner's state (with it) is saved at the next tick
      audit(incident.id, now_ms, "coordinator", "approval",
            "approval " + std::to_string(approval->id) + " requested to run " + approval->action +
                " on " + approval->host + " (risk " + approval->risk + "): " + approval->reason +
                "; run `medicctl approve " + std::to_string(approval->id) + "`");
    }
    work.approval_id = approval->id;
    return "waiting for approval " + std::to_string(approval->id);
  }
  case plan::Verdict::held:
    // Inhibition ends with a `linked` event, which plans again; limits are polled.
    schedule(incident.id, work,
             context.inhibited ? 0 : decision.retry_at_ms.value_or(now_ms + k_held_retry_ms));
    return "held: " + decision.reason;
  case plan::Verdict::escalate:
    work.gave_up = true;
    maybe_escalate(incident, now_ms);
    return "escalated: " + decision.reason;
  default: return decision.reason;
  }
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
  Recovery& recovery = m_in_flight[*sent];
  recovery.incident_id = incident.id;
  recovery.agent_id = incident.agent_id;
  recovery.host = incident.host;
  recovery.target = incident.fingerprint;
  recovery.candidate = chosen.candidate;
  recovery.risk = chosen.risk;
  recovery.diagnosis_key = work.diagnosis ? learn::diagnosis_key(*work.diagnosis) : "";
  recovery.actor = actor;
  recovery.sent_ms = now_ms;
  work.in_flight = *sent;
  ++work.attempts;
  work.tried.push_back(chosen.candidate.action);
  m_planner.started({incident.id, incident.host, chosen.candidate.action, incident.fingerprint},
                    now_ms);
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
  const bool success =
      result.status == protocol::ResultStatus::succeeded && result.post_check != "failed";
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
  finish_recovery(result.command_id, success, why, teaches(result.status), now_ms);
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
  m_planner.finished(
      {recovery.incident_id, recovery.host, recovery.candidate.action, recovery.target}, success,
      now_ms);
  if (learned && !recovery.diagnosis_key.empty()) {
    m_learner.record_outcome({recovery.diagnosis_key, recovery.candidate.action, recovery.target,
                              recovery.risk, recovery.candidate.prior_success,
                              recovery.candidate.prior_weight, success, now_ms - recovery.sent_ms},
                             now_ms); // also the pattern's and the effectiveness figures
  }
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
    ++work.failed;
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
  for (const auto& change : m_planner.review_autonomy(now_ms)) {
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
  if (work.retry_at_ms != 0) {
    m_due.erase({work.retry_at_ms, id});
  }
  work.retry_at_ms = at_ms;
  if (at_ms != 0) {
    m_due.insert({at_ms, id});
  }
}

void Engine::replan_held(std::int64_t now_ms) {
  // Only what is due: the cost does not grow with the number of open incidents.
  std::vector<correlate::IncidentId> due;
  while (!m_due.empty() && m_due.begin()->first <= now_ms) {
    due.push_back(m_due.begin()->second);
    m_due.erase(m_due.begin());
  }
  for (const correlate::IncidentId id : due) {
    if (const auto it = m_work.find(id); it != m_work.end()) {
      it->second.retry_at_ms = 0;
    }
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
    Work& work = m_work[approval.incident];
    work.approval_id = 0;
    work.approval_timed_out = true;
    audit(approval.incident, now_ms, "coordinator", "expired",
          "approval " + std::to_string(approval.id) + " to run " + approval.action + " on " +
              approval.host + " timed out: nobody approved it");
    if (const auto* incident = m_correlator.find(approval.incident); incident != nullptr) {
      maybe_escalate(*incident, now_ms);
    }
  }
}

} // namespace medic::coordinator::engine
