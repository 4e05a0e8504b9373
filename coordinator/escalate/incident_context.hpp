// SPDX-License-Identifier: Apache-2.0
// The webhook's "context": everything known about an incident in one JSON document, so that a
// receiver (a person's tool or a code-fixing bot) needs nothing else. One shape for every
// caller; docs/escalation.md describes it. Pure: values in, JSON out.
#pragma once

#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "coordinator/correlate/incident.hpp"
#include "coordinator/diagnose/diagnosis.hpp"
#include "protocol/message.hpp"

namespace medic::coordinator::escalate {

struct IncidentContextParts {
  const correlate::Incident* incident = nullptr; // required
  const diagnose::Diagnosis* diagnosis = nullptr;
  std::span<const protocol::Signal> signals;        // the incident's signals, oldest first
  std::span<const protocol::LogEvent> log_lines;    // matching log records and gaps
  std::span<const protocol::Evidence> evidence;     // diagnostic actions' output
  std::span<const protocol::CommandResult> actions; // recoveries tried, with their output
  std::string reason;                               // why it escalates (EscalationDecision::why)
};

// {"incident": {...}, "diagnosis": {...} | null, "signals": [...], "log_lines": [...],
//  "evidence": [...], "actions": [...], "reason": "..."}; times are RFC 3339 strings.
[[nodiscard]] nlohmann::json incident_context(const IncidentContextParts& parts);

} // namespace medic::coordinator::escalate
