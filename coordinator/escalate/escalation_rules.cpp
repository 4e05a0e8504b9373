// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/escalation_rules.hpp"

namespace medic::coordinator::escalate {

namespace {

// Severity is ordered worst first (critical = 0).
bool at_or_above(protocol::Severity severity, protocol::Severity threshold) noexcept {
  return static_cast<int>(severity) <= static_cast<int>(threshold);
}

EscalationDecision decision(EscalationReason reason, std::string why) {
  return EscalationDecision{reason, std::move(why)};
}

} // namespace

std::string_view to_string(EscalationReason reason) noexcept {
  switch (reason) {
  case EscalationReason::approval_timeout: return "approval-timeout";
  case EscalationReason::failed_attempts: return "failed-attempts";
  case EscalationReason::flapping: return "flapping";
  case EscalationReason::fleet_incident: return "fleet-incident";
  case EscalationReason::critical_severity: return "critical-severity";
  case EscalationReason::needs_review: return "needs-review";
  }
  return "unknown";
}

std::optional<EscalationDecision> decide_escalation(const EscalationRules& rules,
                                                    const EscalationFacts& facts) {
  if (rules.approval_timeout && facts.approval_timed_out) {
    return decision(EscalationReason::approval_timeout,
                    "an action waited for approval and nobody approved it in time");
  }
  if (rules.max_failed_attempts > 0 && facts.failed_attempts >= rules.max_failed_attempts) {
    return decision(EscalationReason::failed_attempts,
                    std::to_string(facts.failed_attempts) + " recovery attempts failed (limit " +
                        std::to_string(rules.max_failed_attempts) + ")");
  }
  if (rules.flapping && facts.flapping) {
    return decision(EscalationReason::flapping,
                    "the incident is flapping: remediation stopped, a person must look");
  }
  if (rules.fleet && facts.fleet) {
    return decision(EscalationReason::fleet_incident,
                    "the same problem is on many hosts at once: no per-host remediation without "
                    "a person");
  }
  if (rules.critical_at_once && facts.severity == protocol::Severity::critical) {
    return decision(EscalationReason::critical_severity, "the incident is critical");
  }
  if (rules.needs_review_at && facts.needs_review &&
      at_or_above(facts.severity, *rules.needs_review_at)) {
    return decision(EscalationReason::needs_review,
                    "no diagnosis rule matched a " +
                        std::string(protocol::to_string(facts.severity)) + " incident");
  }
  return std::nullopt;
}

EscalationFacts facts_of(const correlate::Incident& incident) noexcept {
  EscalationFacts facts;
  facts.severity = incident.severity;
  facts.fleet = incident.kind == correlate::IncidentKind::fleet;
  facts.flapping = incident.flapping;
  return facts;
}

} // namespace medic::coordinator::escalate
