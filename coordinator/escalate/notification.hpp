// SPDX-License-Identifier: Apache-2.0
// What escalation sends: one incident's alert (labels identify it, annotations explain it) and
// the incident's full context as JSON for webhooks (signals, log lines, diagnosis, actions tried
// with their output), enough for a person or a code-fixing bot to act on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/correlate/incident.hpp"
#include "coordinator/diagnose/diagnosis.hpp"
#include "coordinator/escalate/escalation_rules.hpp"
#include "protocol/message.hpp"

namespace medic::coordinator::escalate {

enum class NotificationState : std::uint8_t { firing, resolved };

[[nodiscard]] std::string_view to_string(NotificationState state) noexcept;

struct Notification {
  correlate::IncidentId incident_id = 0;
  NotificationState state = NotificationState::firing;
  // Identify the alert: Alertmanager groups, silences and resolves by them, so they must stay
  // the same for one incident (no counters or times in here).
  std::vector<protocol::Label> labels;
  // Explain it: summary, description, diagnosis, root_cause, reason, ...
  std::vector<protocol::Label> annotations;
  std::int64_t starts_at_ms = 0;                     // Unix ms
  std::int64_t ends_at_ms = 0;                       // Unix ms; 0 while firing
  nlohmann::json context = nlohmann::json::object(); // the webhook body's "context"
};

// The labels and annotations of an incident's alert: alertname (the incident's rule),
// medic_incident, severity, category, host, service (when set), and a summary, description,
// the diagnosis (when given) and the reason. `context` goes into the notification as given.
[[nodiscard]] Notification make_notification(const correlate::Incident& incident,
                                             const diagnose::Diagnosis* diagnosis,
                                             const EscalationDecision& decision,
                                             nlohmann::json context);

// "2026-11-23T07:47:18.123Z" (RFC 3339, UTC, milliseconds) as Alertmanager and webhooks take it.
[[nodiscard]] std::string format_rfc3339(std::int64_t unix_ms);

// {"name": "value", ...}; a later duplicate name wins.
[[nodiscard]] nlohmann::json labels_object(const std::vector<protocol::Label>& labels);

// One element of Alertmanager's POST /api/v2/alerts array. A firing alert has no endsAt
// (Alertmanager then keeps it for its resolve_timeout, so the sink re-posts it); a resolved one
// has endsAt = ends_at_ms, or `now_ms` when that is 0.
[[nodiscard]] nlohmann::json alertmanager_alert(const Notification& notification,
                                                std::string_view generator_url,
                                                std::int64_t now_ms);

// The webhook body: {"version": "1", "source": "medic", "incident_id", "status", "labels",
// "annotations", "startsAt", "endsAt" (resolved only), "sentAt", "context"}.
[[nodiscard]] nlohmann::json webhook_body(const Notification& notification, std::int64_t now_ms);

} // namespace medic::coordinator::escalate
