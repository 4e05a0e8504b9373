// SPDX-License-Identifier: Apache-2.0
// ReplayEngine: planning as engine/engine_recovery.cpp does it (both through
// plan::RecoveryFlow), with simulated recoveries: a "run" takes the outcome the store has for
// the same agent and action shortly after, or is assumed to succeed after
// ReplayOptions::assumed_success_delay.
#include <algorithm>

#include "coordinator/backtest/replay_engine.hpp"

namespace medic::coordinator::backtest::detail {

plan::PlanContext ReplayEngine::context_for(const correlate::Incident& incident, const Work& work) {
  plan::PlanContext context = plan::RecoveryFlow::context(incident, work, m_correlator);
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
  const plan::Opening opening = m_recovery.open(incident, work, work.in_flight);
  if (opening == plan::Opening::flapping_gave_up) {
    ++m_totals.held;
    note_decision(incident, {now_ms, "held", "",
                             "not remediated: the incident is flapping; remediation stops and "
                             "it is escalated",
                             ""});
    maybe_escalate(incident, now_ms);
  }
  if (opening != plan::Opening::plan) {
    return;
  }
  const plan::Planned planned = m_recovery.decide(context_for(incident, work), work, now_ms);
  if (planned.newly_said) { // a hold re-checked every few seconds is recorded once
    decided(incident, planned.decision, now_ms);
  }
  switch (planned.next) {
  case plan::NextStep::dispatch: dispatch(incident, *planned.decision.chosen, now_ms); break;
  case plan::NextStep::approval_requested: ++m_totals.awaiting_approval; break;
  case plan::NextStep::escalate: maybe_escalate(incident, now_ms); break;
  default: break; // held and approvals failed were scheduled again by the flow
  }
}

void ReplayEngine::decided(const correlate::Incident& incident, const plan::Decision& decision,
                           std::int64_t now_ms) {
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
  recovery.dispatched = m_recovery.started(incident, work, chosen, now_ms);
  if (const auto* entry = record(incident);
      entry != nullptr && !entry->decisions.empty() &&
      entry->decisions.back().verdict == plan::to_string(plan::Verdict::run)) {
    recovery.decision = entry->decisions.size() - 1;
  }
  std::int64_t finish_ms = now_ms + m_options.assumed_success_delay.count();
  find_outcome(incident, recovery, finish_ms);
  work.in_flight = true;
  ++m_totals.runs;
  m_finishing.emplace(finish_ms, std::move(recovery));
}

// What really happened: the same agent started the same action within the result window.
void ReplayEngine::find_outcome(const correlate::Incident& incident, Simulated& recovery,
                                std::int64_t& finish_ms) {
  const auto indexes = m_results_by_agent.find(incident.agent_id);
  if (indexes != m_results_by_agent.end()) {
    const std::int64_t from = recovery.dispatched.sent_ms;
    const std::int64_t to = from + m_options.result_window.count();
    for (const std::size_t i : indexes->second) {
      const auto& result = m_input.results[i].result;
      if (m_result_used[i] || result.action != recovery.dispatched.candidate.action ||
          result.started_ms < from || result.started_ms > to) {
        continue;
      }
      m_result_used[i] = true;
      const plan::Verification verified = plan::verify(result.status, result.post_check);
      recovery.success = verified.success;
      recovery.teaches = verified.teaches;
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
  (void)m_recovery.finished(work, recovery.dispatched, recovery.success, recovery.teaches,
                            now_ms); // the report has no autonomy changes
  if (auto it = m_records.find(recovery.incident_id);
      it != m_records.end() && recovery.decision < it->second.decisions.size()) {
    it->second.decisions[recovery.decision].outcome = recovery.outcome;
  }
  if (!recovery.success) {
    ++m_totals.recoveries_failed;
    if (const auto* incident = m_correlator.find(recovery.incident_id); incident != nullptr) {
      maybe_escalate(*incident, now_ms);
      plan_recovery(*incident, now_ms); // the next candidate, or escalation when none is left
    }
  }
  replan_due(now_ms);
}

void ReplayEngine::expire_approvals(std::int64_t now_ms) {
  for (const auto& approval : m_planner.expired(now_ms)) {
    plan::RecoveryFlow::approval_expired(m_work[approval.incident]);
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

void ReplayEngine::replan_due(std::int64_t now_ms) {
  for (const correlate::IncidentId id : m_recovery.take_due(now_ms, m_work)) {
    const correlate::Incident* incident = m_correlator.find(id);
    if (incident != nullptr && incident->state == correlate::IncidentState::open) {
      plan_recovery(*incident, now_ms);
    }
  }
}

} // namespace medic::coordinator::backtest::detail
