// SPDX-License-Identifier: Apache-2.0
// ReplayEngine: planning as engine/engine_recovery.cpp does it, with simulated recoveries: a
// "run" takes the outcome the store has for the same agent and action shortly after, or is
// assumed to succeed after ReplayOptions::assumed_success_delay.
#include <algorithm>

#include "coordinator/backtest/replay_engine.hpp"

namespace medic::coordinator::backtest::detail {

namespace {

constexpr std::int64_t k_held_retry_ms = 5000; // as the live engine

bool teaches(protocol::ResultStatus status) {
  return status == protocol::ResultStatus::succeeded || status == protocol::ResultStatus::failed ||
         status == protocol::ResultStatus::timed_out;
}

} // namespace

plan::PlanContext ReplayEngine::context_for(const correlate::Incident& incident, const Work& work) {
  plan::PlanContext context;
  context.incident = incident;
  if (work.diagnosis) {
    context.diagnosis = *work.diagnosis;
  }
  const auto agent = m_agents.find(incident.agent_id);
  if (agent != m_agents.end() && agent->second->catalog) {
    context.catalog = &*agent->second->catalog;
  } else { // unknown catalog: every candidate is assumed there, at the rule's risk
    m_assumed_catalog.clear();
    for (const auto& candidate : context.diagnosis.candidates) {
      m_assumed_catalog.push_back(
          {candidate.action, candidate.risk.empty() ? m_options.assumed_risk : candidate.risk, {}});
    }
    context.catalog = &m_assumed_catalog;
  }
  context.agent_connected = true; // the replay assumes every agent was there to be asked
  context.fleet_member = incident.link == correlate::LinkReason::fleet;
  context.inhibited = !context.fleet_member && m_correlator.inhibited(incident);
  context.attempts_so_far = work.attempts;
  context.tried_actions = work.tried;
  return context;
}

void ReplayEngine::note_decision(const correlate::Incident& incident, ReplayDecision decision) {
  ReplayIncident* entry = record(incident);
  if (entry != nullptr && entry->decisions.size() < m_options.max_decisions) {
    entry->decisions.push_back(std::move(decision));
  }
}

void ReplayEngine::plan_recovery(const correlate::Incident& snapshot, std::int64_t now_ms) {
  const correlate::Incident* current = m_correlator.find(snapshot.id);
  const correlate::Incident& incident = current != nullptr ? *current : snapshot;
  Work& work = m_work[incident.id];
  if (!work.diagnosis || work.in_flight || incident.state != correlate::IncidentState::open) {
    return;
  }
  schedule(incident.id, work, 0);
  if (incident.flapping) {
    if (!work.gave_up) {
      work.gave_up = true;
      ++m_totals.held;
      note_decision(incident, {now_ms, "held", "",
                               "not remediated: the incident is flapping; remediation stops and "
                               "it is escalated",
                               ""});
      maybe_escalate(incident, now_ms);
    }
    return;
  }
  const auto context = context_for(incident, work);
  const plan::Decision decision = m_planner.decide(context, now_ms);
  decided(incident, work, decision, now_ms);
  switch (decision.verdict) {
  case plan::Verdict::run: dispatch(incident, *decision.chosen, now_ms); break;
  case plan::Verdict::await_approval: {
    auto approval = m_planner.request_approval(context, decision, now_ms);
    if (!approval) {
      schedule(incident.id, work, now_ms + k_held_retry_ms);
    } else if (work.approval_id != approval->id) {
      ++m_totals.awaiting_approval;
      work.approval_id = approval->id;
    }
    break;
  }
  case plan::Verdict::held:
    schedule(incident.id, work,
             context.inhibited ? 0 : decision.retry_at_ms.value_or(now_ms + k_held_retry_ms));
    break;
  case plan::Verdict::escalate:
    work.gave_up = true;
    maybe_escalate(incident, now_ms);
    break;
  default: break;
  }
}

void ReplayEngine::decided(const correlate::Incident& incident, Work& work,
                           const plan::Decision& decision, std::int64_t now_ms) {
  std::string said = std::string(plan::to_string(decision.verdict)) + ": " + decision.reason;
  if (said == work.last_decision) {
    return; // a hold re-checked every few seconds is recorded once, as in the audit trail
  }
  work.last_decision = std::move(said);
  if (decision.verdict == plan::Verdict::held) {
    ++m_totals.held;
  } else if (decision.verdict == plan::Verdict::record_only) {
    ++m_totals.record_only;
  }
  note_decision(incident,
                {now_ms, std::string(plan::to_string(decision.verdict)),
                 decision.chosen ? decision.chosen->candidate.action : "", decision.reason, ""});
}

void ReplayEngine::dispatch(const correlate::Incident& incident, const plan::Ranked& chosen,
                            std::int64_t now_ms) {
  Work& work = m_work[incident.id];
  Simulated recovery;
  recovery.incident_id = incident.id;
  recovery.key = {incident.id, incident.host, chosen.candidate.action, incident.fingerprint};
  recovery.candidate = chosen.candidate;
  recovery.risk = chosen.risk;
  recovery.diagnosis_key = work.diagnosis ? learn::diagnosis_key(*work.diagnosis) : "";
  recovery.sent_ms = now_ms;
  if (const auto* entry = record(incident);
      entry != nullptr && !entry->decisions.empty() &&
      entry->decisions.back().verdict == plan::to_string(plan::Verdict::run)) {
    recovery.decision = entry->decisions.size() - 1;
  }
  std::int64_t finish_ms = now_ms + m_options.assumed_success_delay.count();
  find_outcome(incident, recovery, finish_ms);
  work.in_flight = true;
  ++work.attempts;
  work.tried.push_back(chosen.candidate.action);
  ++m_totals.runs;
  m_planner.started(recovery.key, now_ms);
  m_finishing.emplace(finish_ms, std::move(recovery));
}

// What really happened: the same agent started the same action within the result window.
void ReplayEngine::find_outcome(const correlate::Incident& incident, Simulated& recovery,
                                std::int64_t& finish_ms) {
  const auto indexes = m_results_by_agent.find(incident.agent_id);
  if (indexes != m_results_by_agent.end()) {
    const std::int64_t from = recovery.sent_ms;
    const std::int64_t to = from + m_options.result_window.count();
    for (const std::size_t i : indexes->second) {
      const auto& result = m_input.results[i].result;
      if (m_result_used[i] || result.action != recovery.candidate.action ||
          result.started_ms < from || result.started_ms > to) {
        continue;
      }
      m_result_used[i] = true;
      recovery.success =
          result.status == protocol::ResultStatus::succeeded && result.post_check != "failed";
      recovery.teaches = teaches(result.status);
      recovery.outcome = std::string(recovery.success ? "succeeded" : "failed") +
                         " (stored result: " + std::string(protocol::to_string(result.status)) +
                         (result.post_check.empty() ? "" : ", post-check " + result.post_check) +
                         ")";
      finish_ms = std::max(from, std::max(result.finished_ms, result.started_ms));
      ++m_totals.outcomes_stored;
      return;
    }
  }
  recovery.success = true;
  recovery.teaches = true;
  recovery.outcome = "succeeded (assumed after " +
                     std::to_string(m_options.assumed_success_delay.count() / 1000) + " s)";
  ++m_totals.outcomes_assumed;
}

void ReplayEngine::finish_due(std::int64_t now_ms) {
  while (!m_finishing.empty() && m_finishing.begin()->first <= now_ms) {
    Simulated recovery = std::move(m_finishing.begin()->second);
    m_finishing.erase(m_finishing.begin());
    finish(std::move(recovery), now_ms);
  }
}

void ReplayEngine::finish(Simulated recovery, std::int64_t now_ms) {
  Work& work = m_work[recovery.incident_id];
  work.in_flight = false;
  m_planner.finished(recovery.key, recovery.success, now_ms);
  if (recovery.teaches && !recovery.diagnosis_key.empty()) {
    m_learner.record_outcome(
        {recovery.diagnosis_key, recovery.candidate.action, recovery.key.target, recovery.risk,
         recovery.candidate.prior_success, recovery.candidate.prior_weight, recovery.success,
         now_ms - recovery.sent_ms},
        now_ms);
  }
  (void)m_planner.review_autonomy(now_ms);
  if (auto it = m_records.find(recovery.incident_id);
      it != m_records.end() && recovery.decision < it->second.decisions.size()) {
    it->second.decisions[recovery.decision].outcome = recovery.outcome;
  }
  if (!recovery.success) {
    ++m_totals.recoveries_failed;
    ++work.failed;
    if (const auto* incident = m_correlator.find(recovery.incident_id); incident != nullptr) {
      maybe_escalate(*incident, now_ms);
      plan_recovery(*incident, now_ms); // the next candidate, or escalation when none is left
    }
  }
  replan_due(now_ms);
}

void ReplayEngine::expire_approvals(std::int64_t now_ms) {
  for (const auto& approval : m_planner.expired(now_ms)) {
    Work& work = m_work[approval.incident];
    work.approval_id = 0;
    work.approval_timed_out = true;
    ++m_totals.approvals_timed_out;
    if (const auto* incident = m_correlator.find(approval.incident); incident != nullptr) {
      note_decision(*incident, {now_ms, "approval_timeout", approval.action,
                                "approval " + std::to_string(approval.id) + " to run " +
                                    approval.action + " timed out: nobody approved it",
                                ""});
      maybe_escalate(*incident, now_ms);
    }
  }
}

void ReplayEngine::schedule(correlate::IncidentId id, Work& work, std::int64_t at_ms) {
  if (work.retry_at_ms != 0) {
    m_due.erase({work.retry_at_ms, id});
  }
  work.retry_at_ms = at_ms;
  if (at_ms != 0) {
    m_due.insert({at_ms, id});
  }
}

void ReplayEngine::replan_due(std::int64_t now_ms) {
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

} // namespace medic::coordinator::backtest::detail
