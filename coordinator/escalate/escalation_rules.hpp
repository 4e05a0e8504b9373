// SPDX-License-Identifier: Apache-2.0
// When an incident calls a person: a pure decision from the facts the engine holds about it
// (severity, failed recovery attempts, fleet, flapping, approval timeout, needs-review). No I/O,
// no time: the engine passes facts in and records the reason it gets back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "coordinator/correlate/incident.hpp"
#include "protocol/message.hpp"

namespace medic::coordinator::escalate {

struct EscalationRules {
  bool critical_at_once = true;          // a critical incident escalates when it opens
  std::uint32_t max_failed_attempts = 3; // failed recoveries before escalation; 0 = never
  bool fleet = true;                     // a fleet incident escalates at once
  bool flapping = true;                  // a flapping incident escalates
  bool approval_timeout = true;          // an approval nobody gave in time escalates
  // A `needs-review` diagnosis (no rule matched) escalates at this severity or worse; nullopt
  // never escalates for that reason alone.
  std::optional<protocol::Severity> needs_review_at = protocol::Severity::high;
};

// What the engine knows about one open incident when it asks.
struct EscalationFacts {
  protocol::Severity severity = protocol::Severity::medium;
  std::uint32_t failed_attempts = 0; // recoveries tried that failed (or timed out)
  bool fleet = false;
  bool flapping = false;
  bool approval_timed_out = false;
  bool needs_review = false; // diagnosis found no rule
};

enum class EscalationReason : std::uint8_t {
  approval_timeout,
  failed_attempts,
  flapping,
  fleet_incident,
  critical_severity,
  needs_review,
};

[[nodiscard]] std::string_view to_string(EscalationReason reason) noexcept; // "flapping", ...

struct EscalationDecision {
  EscalationReason reason = EscalationReason::critical_severity;
  std::string why; // one sentence for people and the audit trail
  friend bool operator==(const EscalationDecision&, const EscalationDecision&) = default;
};

// The first reason that holds, in the order of EscalationReason (what medic tried and gave up
// on first, then what it must not touch, then severity); nullopt: no need to call anyone.
[[nodiscard]] std::optional<EscalationDecision> decide_escalation(const EscalationRules& rules,
                                                                  const EscalationFacts& facts);

// Severity, fleet and flapping from the incident; the caller adds attempts, approval, review.
[[nodiscard]] EscalationFacts facts_of(const correlate::Incident& incident) noexcept;

} // namespace medic::coordinator::escalate
