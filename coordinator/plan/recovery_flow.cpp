// SPDX-License-Identifier: Apache-2.0
#include "coordinator/plan/recovery_flow.hpp"

namespace medic::coordinator::plan {

Verification verify(protocol::ResultStatus status, std::string_view post_check) noexcept {
  Verification verification;
  verification.success = status == protocol::ResultStatus::succeeded && post_check != "failed";
  verification.teaches = status == protocol::ResultStatus::succeeded ||
                         status == protocol::ResultStatus::failed ||
                         status == protocol::ResultStatus::timed_out;
  return verification;
}

RecoveryFlow::RecoveryFlow(Planner& planner, learn::Learner& learner)
    : m_planner(planner), m_learner(learner) {}

PlanContext RecoveryFlow::context(const correlate::Incident& incident, const RecoveryState& state,
                                  const correlate::Correlator& correlator) {
  PlanContext context;
  context.incident = incident;
  if (state.diagnosis) {
    context.diagnosis = *state.diagnosis;
  }
  // A fleet member is not held like a dependant: it waits for a person's approval (the
  // blast-radius guard), so an operator may still heal one host of the fleet.
  context.fleet_member = incident.link == correlate::LinkReason::fleet;
  context.inhibited = !context.fleet_member && correlator.inhibited(incident);
  context.attempts_so_far = state.attempts;
  context.tried_actions = state.tried;
  return context;
}

Opening RecoveryFlow::open(const correlate::Incident& incident, RecoveryState& state,
                           bool in_flight) {
  if (!state.diagnosis || in_flight || incident.state != correlate::IncidentState::open) {
    return Opening::not_now;
  }
  schedule(incident.id, state, 0);
  if (!incident.flapping) {
    return Opening::plan;
  }
  // Restarting a flapping target only feeds the loop: stop and let a person look.
  if (state.gave_up) {
    return Opening::flapping;
  }
  state.gave_up = true;
  return Opening::flapping_gave_up;
}

Planned RecoveryFlow::decide(const PlanContext& context, RecoveryState& state,
                             std::int64_t now_ms) {
  Planned planned;
  planned.decision = m_planner.decide(context, now_ms);
  const Decision& decision = planned.decision;
  planned.said = std::string(to_string(decision.verdict)) + ": " + decision.reason;
  planned.newly_said = planned.said != state.last_decision; // a re-checked hold: once
  if (planned.newly_said) {
    state.last_decision = planned.said;
  }
  const correlate::IncidentId id = context.incident.id;
  switch (decision.verdict) {
  case Verdict::run: planned.next = NextStep::dispatch; break;
  case Verdict::await_approval: {
    auto approval = m_planner.request_approval(context, decision, now_ms);
    if (!approval) {
      planned.next = NextStep::approval_failed;
      planned.approval_error = approval.error().message();
      schedule(id, state, now_ms + k_held_retry_ms);
      break;
    }
    planned.next = state.approval_id != approval->id ? NextStep::approval_requested
                                                     : NextStep::approval_pending;
    state.approval_id = approval->id;
    planned.approval = std::move(*approval);
    break;
  }
  case Verdict::held:
    // Inhibition ends with a `linked` event, which plans again; limits are polled.
    planned.next = NextStep::held;
    schedule(id, state,
             context.inhibited ? 0 : decision.retry_at_ms.value_or(now_ms + k_held_retry_ms));
    break;
  case Verdict::escalate:
    planned.next = NextStep::escalate;
    state.gave_up = true;
    break;
  default: planned.next = NextStep::none; break;
  }
  return planned;
}

Dispatched RecoveryFlow::started(const correlate::Incident& incident, RecoveryState& state,
                                 const Ranked& chosen, std::int64_t now_ms) {
  Dispatched recovery;
  recovery.key = {incident.id, incident.host, chosen.candidate.action, incident.fingerprint};
  recovery.candidate = chosen.candidate;
  recovery.risk = chosen.risk;
  recovery.diagnosis_key = state.diagnosis ? learn::diagnosis_key(*state.diagnosis) : "";
  recovery.sent_ms = now_ms;
  ++state.attempts;
  state.tried.push_back(chosen.candidate.action);
  m_planner.started(recovery.key, now_ms);
  return recovery;
}

std::vector<AutonomyChange> RecoveryFlow::finished(RecoveryState& state, const Dispatched& recovery,
                                                   bool success, bool teaches,
                                                   std::int64_t now_ms) {
  m_planner.finished(recovery.key, success, now_ms);
  if (teaches && !recovery.diagnosis_key.empty()) {
    m_learner.record_outcome({recovery.diagnosis_key, recovery.candidate.action,
                              recovery.key.target, recovery.risk, recovery.candidate.prior_success,
                              recovery.candidate.prior_weight, success, now_ms - recovery.sent_ms},
                             now_ms); // also the pattern's and the effectiveness figures
  }
  if (!success) {
    ++state.failed;
  }
  return m_planner.review_autonomy(now_ms);
}

void RecoveryFlow::approval_expired(RecoveryState& state) noexcept {
  state.approval_id = 0;
  state.approval_timed_out = true;
}

void RecoveryFlow::schedule(correlate::IncidentId id, RecoveryState& state, std::int64_t at_ms) {
  if (state.retry_at_ms != 0) {
    m_due.erase({state.retry_at_ms, id});
  }
  state.retry_at_ms = at_ms;
  if (at_ms != 0) {
    m_due.insert({at_ms, id});
  }
}

std::optional<std::int64_t> RecoveryFlow::next_due_ms() const {
  if (m_due.empty()) {
    return std::nullopt;
  }
  return m_due.begin()->first;
}

} // namespace medic::coordinator::plan
