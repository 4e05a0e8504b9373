// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/incident_context.hpp"

#include "coordinator/escalate/notification.hpp"

namespace medic::coordinator::escalate {

namespace {

using nlohmann::json;

std::string time_text(std::int64_t ms) {
  return ms > 0 ? format_rfc3339(ms) : std::string();
}

json incident_json(const correlate::Incident& i) {
  return {{"id", i.id},
          {"kind", std::string(correlate::to_string(i.kind))},
          {"state", std::string(correlate::to_string(i.state))},
          {"fingerprint", i.fingerprint},
          {"agent_id", i.agent_id},
          {"host", i.host},
          {"service", i.service},
          {"rule", i.rule},
          {"category", std::string(protocol::to_string(i.category))},
          {"severity", std::string(protocol::to_string(i.severity))},
          {"layer", std::string(correlate::to_string(i.layer))},
          {"labels", labels_object(i.labels)},
          {"message", i.message},
          {"value", i.value},
          {"first_seen", time_text(i.first_seen_ms)},
          {"last_seen", time_text(i.last_seen_ms)},
          {"resolved", time_text(i.resolved_ms)},
          {"count", i.count},
          {"reopened", i.reopened},
          {"root_id", i.root_id},
          {"link", std::string(correlate::to_string(i.link))},
          {"flapping", i.flapping},
          {"fleet_hosts", i.fleet_hosts}};
}

json diagnosis_json(const diagnose::Diagnosis& d) {
  json candidates = json::array();
  for (const auto& c : d.candidates) {
    candidates.push_back({{"action", c.action},
                          {"params", labels_object(c.params)},
                          {"risk", c.risk},
                          {"prior_success", c.prior_success}});
  }
  return {{"rule_id", d.rule_id},
          {"root_cause", d.root_cause},
          {"probable_causes", d.probable_causes},
          {"confidence", d.confidence},
          {"automation", std::string(diagnose::to_string(d.automation))},
          {"candidates", std::move(candidates)},
          {"explanation", d.explanation}};
}

json signal_json(const protocol::Signal& s) {
  return {{"rule", s.rule},
          {"state", std::string(protocol::to_string(s.state))},
          {"severity", std::string(protocol::to_string(s.severity))},
          {"category", std::string(protocol::to_string(s.category))},
          {"fingerprint", s.fingerprint},
          {"value", s.value},
          {"time", time_text(s.time_ms)},
          {"labels", labels_object(s.labels)},
          {"message", s.message}};
}

json log_json(const protocol::LogEvent& e) {
  json line = {{"kind", e.kind == protocol::LogEventKind::line ? "line" : "gap"},
               {"source", e.source},
               {"path", e.path},
               {"time", time_text(e.time_ms)},
               {"offset", e.offset},
               {"text", e.text},
               {"rule", e.rule},
               {"labels", labels_object(e.labels)}};
  if (e.template_id) {
    line["template_id"] = *e.template_id;
  }
  if (e.kind == protocol::LogEventKind::gap) {
    line["gap_bytes"] = e.gap_bytes;
  }
  return line;
}

json action_json(const protocol::CommandResult& r) {
  return {{"command_id", r.command_id},
          {"action", r.action},
          {"params", labels_object(r.params)},
          {"origin", r.origin},
          {"status", std::string(protocol::to_string(r.status))},
          {"reason", r.reason},
          {"exit_code", r.exit_code},
          {"started", time_text(r.started_ms)},
          {"finished", time_text(r.finished_ms)},
          {"output", r.output},
          {"post_check", r.post_check},
          {"rollback", r.rollback},
          {"rollback_status", r.rollback_status},
          {"plan", r.plan}};
}

template <class T, class F>
json array_of(std::span<const T> items, F&& convert) {
  json array = json::array();
  for (const auto& item : items) {
    array.push_back(convert(item));
  }
  return array;
}

} // namespace

json incident_context(const IncidentContextParts& parts) {
  json evidence = json::array();
  for (const auto& e : parts.evidence) {
    evidence.push_back({{"fingerprint", e.fingerprint},
                        {"rule", e.rule},
                        {"action", e.action},
                        {"time", time_text(e.time_ms)},
                        {"status", std::string(protocol::to_string(e.status))},
                        {"output", e.output}});
  }
  return {
      {"incident", parts.incident != nullptr ? incident_json(*parts.incident) : json(nullptr)},
      {"diagnosis", parts.diagnosis != nullptr ? diagnosis_json(*parts.diagnosis) : json(nullptr)},
      {"signals", array_of(parts.signals, signal_json)},
      {"log_lines", array_of(parts.log_lines, log_json)},
      {"evidence", std::move(evidence)},
      {"actions", array_of(parts.actions, action_json)},
      {"reason", parts.reason}};
}

} // namespace medic::coordinator::escalate
