// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/notification.hpp"

#include <ctime>
#include <utility>

namespace medic::coordinator::escalate {

namespace {

void add(std::vector<protocol::Label>& labels, std::string name, std::string value) {
  if (!value.empty()) {
    labels.push_back({std::move(name), std::move(value)});
  }
}

std::string summary_of(const correlate::Incident& incident) {
  std::string where = incident.kind == correlate::IncidentKind::fleet
                          ? std::to_string(incident.fleet_hosts) + " hosts"
                          : incident.host;
  return std::string(protocol::to_string(incident.severity)) + " " + incident.rule + " on " + where;
}

} // namespace

std::string_view to_string(NotificationState state) noexcept {
  return state == NotificationState::firing ? "firing" : "resolved";
}

Notification make_notification(const correlate::Incident& incident,
                               const diagnose::Diagnosis* diagnosis,
                               const EscalationDecision& decision, nlohmann::json context) {
  Notification n;
  n.incident_id = incident.id;
  n.state = incident.state == correlate::IncidentState::open ? NotificationState::firing
                                                             : NotificationState::resolved;
  add(n.labels, "alertname", incident.rule.empty() ? "medic_incident" : incident.rule);
  add(n.labels, "medic_incident", std::to_string(incident.id));
  add(n.labels, "severity", std::string(protocol::to_string(incident.severity)));
  add(n.labels, "category", std::string(protocol::to_string(incident.category)));
  add(n.labels, "kind", std::string(correlate::to_string(incident.kind)));
  add(n.labels, "host", incident.host);
  add(n.labels, "service", incident.service);
  add(n.annotations, "summary", summary_of(incident));
  add(n.annotations, "description", incident.message);
  add(n.annotations, "reason", std::string(to_string(decision.reason)));
  add(n.annotations, "reason_detail", decision.why);
  add(n.annotations, "fingerprint", incident.fingerprint);
  if (diagnosis != nullptr) {
    add(n.annotations, "diagnosis", diagnosis->rule_id);
    add(n.annotations, "root_cause", diagnosis->root_cause);
    add(n.annotations, "explanation", diagnosis->explanation);
  }
  n.starts_at_ms = incident.first_seen_ms;
  n.ends_at_ms = incident.resolved_ms;
  n.context = std::move(context);
  return n;
}

std::string format_rfc3339(std::int64_t unix_ms) {
  const std::int64_t seconds = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  const auto millis = static_cast<int>(unix_ms - seconds * 1000);
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  const std::size_t used = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", millis);
  return std::string(text, used) + fraction;
}

nlohmann::json labels_object(const std::vector<protocol::Label>& labels) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& label : labels) {
    object[label.name] = label.value;
  }
  return object;
}

nlohmann::json alertmanager_alert(const Notification& notification, std::string_view generator_url,
                                  std::int64_t now_ms) {
  nlohmann::json alert = {{"labels", labels_object(notification.labels)},
                          {"annotations", labels_object(notification.annotations)}};
  if (notification.starts_at_ms > 0) {
    alert["startsAt"] = format_rfc3339(notification.starts_at_ms);
  }
  if (notification.state == NotificationState::resolved) {
    alert["endsAt"] =
        format_rfc3339(notification.ends_at_ms > 0 ? notification.ends_at_ms : now_ms);
  }
  if (!generator_url.empty()) {
    alert["generatorURL"] = std::string(generator_url);
  }
  return alert;
}

nlohmann::json webhook_body(const Notification& notification, std::int64_t now_ms) {
  nlohmann::json body = {{"version", "1"},
                         {"source", "medic"},
                         {"incident_id", notification.incident_id},
                         {"status", std::string(to_string(notification.state))},
                         {"labels", labels_object(notification.labels)},
                         {"annotations", labels_object(notification.annotations)},
                         {"sentAt", format_rfc3339(now_ms)},
                         {"context", notification.context}};
  if (notification.starts_at_ms > 0) {
    body["startsAt"] = format_rfc3339(notification.starts_at_ms);
  }
  if (notification.state == NotificationState::resolved) {
    body["endsAt"] = format_rfc3339(notification.ends_at_ms > 0 ? notification.ends_at_ms : now_ms);
  }
  return body;
}

} // namespace medic::coordinator::escalate
