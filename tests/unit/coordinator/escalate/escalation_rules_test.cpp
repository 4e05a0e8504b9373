// SPDX-License-Identifier: Apache-2.0
// decide_escalation: each rule escalates for its own reason, a disabled rule does not, and the
// reasons come in their documented order.
#include <catch2/catch.hpp>

#include "coordinator/escalate/escalation_rules.hpp"

namespace escalate = medic::coordinator::escalate;
using escalate::EscalationFacts;
using escalate::EscalationReason;
using escalate::EscalationRules;
using medic::protocol::Severity;

namespace {

std::optional<EscalationReason> reason(const EscalationRules& rules, const EscalationFacts& facts) {
  auto decision = escalate::decide_escalation(rules, facts);
  return decision ? std::optional(decision->reason) : std::nullopt;
}

} // namespace

TEST_CASE("escalation rules: a quiet medium incident does not escalate", "[escalate]") {
  CHECK_FALSE(escalate::decide_escalation({}, {}));
}

TEST_CASE("escalation rules: each reason escalates on its own", "[escalate]") {
  const EscalationRules rules;
  EscalationFacts critical;
  critical.severity = Severity::critical;
  CHECK(reason(rules, critical) == EscalationReason::critical_severity);

  EscalationFacts attempts;
  attempts.failed_attempts = 2;
  CHECK_FALSE(reason(rules, attempts));
  attempts.failed_attempts = 3;
  CHECK(reason(rules, attempts) == EscalationReason::failed_attempts);
  CHECK(escalate::decide_escalation(rules, attempts)->why ==
        "3 recovery attempts failed (limit 3)");

  EscalationFacts fleet;
  fleet.fleet = true;
  CHECK(reason(rules, fleet) == EscalationReason::fleet_incident);

  EscalationFacts flapping;
  flapping.flapping = true;
  CHECK(reason(rules, flapping) == EscalationReason::flapping);

  EscalationFacts approval;
  approval.approval_timed_out = true;
  CHECK(reason(rules, approval) == EscalationReason::approval_timeout);
}

TEST_CASE("escalation rules: needs-review escalates at or above its severity", "[escalate]") {
  EscalationRules rules;
  rules.needs_review_at = Severity::high;
  EscalationFacts facts;
  facts.needs_review = true;
  facts.severity = Severity::medium;
  CHECK_FALSE(reason(rules, facts));
  facts.severity = Severity::high;
  CHECK(reason(rules, facts) == EscalationReason::needs_review);
  rules.critical_at_once = false;
  facts.severity = Severity::critical;
  CHECK(reason(rules, facts) == EscalationReason::needs_review);
  rules.needs_review_at.reset();
  CHECK_FALSE(reason(rules, facts));
}

TEST_CASE("escalation rules: disabled rules never escalate", "[escalate]") {
  EscalationRules rules;
  rules.critical_at_once = false;
  rules.max_failed_attempts = 0;
  rules.fleet = false;
  rules.flapping = false;
  rules.approval_timeout = false;
  rules.needs_review_at.reset();
  EscalationFacts facts;
  facts.severity = Severity::critical;
  facts.failed_attempts = 100;
  facts.fleet = facts.flapping = facts.approval_timed_out = facts.needs_review = true;
  CHECK_FALSE(escalate::decide_escalation(rules, facts));
}

TEST_CASE("escalation rules: the most specific reason wins", "[escalate]") {
  EscalationFacts facts;
  facts.severity = Severity::critical;
  facts.fleet = true;
  facts.flapping = true;
  CHECK(reason({}, facts) == EscalationReason::flapping);
  facts.failed_attempts = 5;
  CHECK(reason({}, facts) == EscalationReason::failed_attempts);
  facts.approval_timed_out = true;
  CHECK(reason({}, facts) == EscalationReason::approval_timeout);
  CHECK(escalate::to_string(EscalationReason::approval_timeout) == "approval-timeout");
}

TEST_CASE("escalation rules: facts_of reads severity, fleet and flapping", "[escalate]") {
  medic::coordinator::correlate::Incident incident;
  incident.severity = Severity::high;
  incident.kind = medic::coordinator::correlate::IncidentKind::fleet;
  incident.flapping = true;
  const auto facts = escalate::facts_of(incident);
  CHECK(facts.severity == Severity::high);
  CHECK(facts.fleet);
  CHECK(facts.flapping);
  CHECK(facts.failed_attempts == 0);
}
