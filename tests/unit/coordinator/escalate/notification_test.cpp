// SPDX-License-Identifier: Apache-2.0
// A notification from an incident: stable identifying labels, explaining annotations, the
// Alertmanager and webhook JSON forms, and the full incident context for webhooks.
#include <catch2/catch.hpp>

#include "coordinator/escalate/incident_context.hpp"
#include "coordinator/escalate/notification.hpp"

namespace escalate = medic::coordinator::escalate;
namespace correlate = medic::coordinator::correlate;
namespace diagnose = medic::coordinator::diagnose;
namespace protocol = medic::protocol;

namespace {

correlate::Incident incident() {
  correlate::Incident i;
  i.id = 42;
  i.fingerprint = "proc-down:web";
  i.host = "web-1";
  i.service = "web";
  i.rule = "proc-down";
  i.severity = protocol::Severity::critical;
  i.message = "web exited with status 139";
  i.first_seen_ms = 1795420038000;
  i.last_seen_ms = 1795420039000;
  return i;
}

diagnose::Diagnosis diagnosis() {
  diagnose::Diagnosis d;
  d.rule_id = "crashed-service";
  d.root_cause = "crashed-service";
  d.probable_causes = {"segfault"};
  d.confidence = 0.9;
  d.automation = diagnose::Automation::auto_;
  d.candidates = {{"restart-service", {{"unit", "web.service"}}, 0.8, 2, "low"}};
  d.explanation = "category resource and rule proc-down matched";
  return d;
}

std::string label(const std::vector<protocol::Label>& labels, std::string_view name) {
  for (const auto& l : labels) {
    if (l.name == name) {
      return l.value;
    }
  }
  return "<none>";
}

} // namespace

TEST_CASE("notification: labels identify the incident, annotations explain it", "[escalate]") {
  const auto d = diagnosis();
  const escalate::EscalationDecision decision{escalate::EscalationReason::failed_attempts,
                                              "3 recovery attempts failed (limit 3)"};
  const auto n = escalate::make_notification(incident(), &d, decision, {{"x", 1}});
  CHECK(n.incident_id == 42);
  CHECK(n.state == escalate::NotificationState::firing);
  CHECK(label(n.labels, "alertname") == "proc-down");
  CHECK(label(n.labels, "medic_incident") == "42");
  CHECK(label(n.labels, "severity") == "critical");
  CHECK(label(n.labels, "host") == "web-1");
  CHECK(label(n.labels, "service") == "web");
  CHECK(label(n.annotations, "summary") == "critical proc-down on web-1");
  CHECK(label(n.annotations, "description") == "web exited with status 139");
  CHECK(label(n.annotations, "reason") == "failed-attempts");
  CHECK(label(n.annotations, "root_cause") == "crashed-service");
  CHECK(n.starts_at_ms == 1795420038000);
  CHECK(n.context["x"] == 1);

  const auto alert = escalate::alertmanager_alert(n, "http://medic/ui", 1795420040000);
  CHECK(alert["labels"]["alertname"] == "proc-down");
  CHECK(alert["startsAt"] == "2026-11-23T07:47:18.000Z");
  CHECK_FALSE(alert.contains("endsAt"));
  CHECK(alert["generatorURL"] == "http://medic/ui");

  auto resolved = n;
  resolved.state = escalate::NotificationState::resolved;
  CHECK(escalate::alertmanager_alert(resolved, "", 1795420040000)["endsAt"] ==
        "2026-11-23T07:47:20.000Z");
  const auto body = escalate::webhook_body(resolved, 1795420040000);
  CHECK(body["status"] == "resolved");
  CHECK(body["endsAt"] == "2026-11-23T07:47:20.000Z");
  CHECK(body["sentAt"] == "2026-11-23T07:47:20.000Z");
}

TEST_CASE("notification: the incident context carries signals, logs, diagnosis and actions",
          "[escalate]") {
  const auto i = incident();
  const auto d = diagnosis();
  protocol::Signal signal;
  signal.rule = "proc-down";
  signal.fingerprint = "proc-down:web";
  signal.time_ms = 1795420038000;
  protocol::LogEvent line;
  line.text = "web[123]: segfault at 0";
  line.template_id = 7;
  protocol::CommandResult result;
  result.action = "restart-service";
  result.status = protocol::ResultStatus::failed;
  result.output = "Job for web.service failed";
  result.post_check = "failed";
  protocol::Evidence evidence;
  evidence.action = "diag-journal";
  evidence.output = "core dumped";

  escalate::IncidentContextParts parts;
  parts.incident = &i;
  parts.diagnosis = &d;
  parts.signals = {&signal, 1};
  parts.log_lines = {&line, 1};
  parts.evidence = {&evidence, 1};
  parts.actions = {&result, 1};
  parts.reason = "3 recovery attempts failed";
  const auto context = escalate::incident_context(parts);
  CHECK(context["incident"]["id"] == 42);
  CHECK(context["incident"]["first_seen"] == "2026-11-23T07:47:18.000Z");
  CHECK(context["incident"]["resolved"] == "");
  CHECK(context["diagnosis"]["candidates"][0]["params"]["unit"] == "web.service");
  CHECK(context["diagnosis"]["automation"] == "auto");
  CHECK(context["signals"][0]["rule"] == "proc-down");
  CHECK(context["log_lines"][0]["template_id"] == 7);
  CHECK(context["evidence"][0]["output"] == "core dumped");
  CHECK(context["actions"][0]["status"] == "failed");
  CHECK(context["actions"][0]["output"] == "Job for web.service failed");
  CHECK(context["reason"] == "3 recovery attempts failed");

  escalate::IncidentContextParts bare;
  bare.incident = &i;
  CHECK(escalate::incident_context(bare)["diagnosis"].is_null());
}
