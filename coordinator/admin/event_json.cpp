// SPDX-License-Identifier: Apache-2.0
// The JSON forms of stored signals and log events, and the query a request asks for.
#include "coordinator/admin/admin_commands.hpp"

namespace medic::coordinator::admin {

namespace {

nlohmann::json labels_object(const std::vector<protocol::Label>& labels) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& label : labels) {
    object[label.name] = label.value;
  }
  return object;
}

} // namespace

nlohmann::json signal_json(const storage::SignalRecord& record) {
  const protocol::Signal& signal = record.signal;
  return {{"agent", record.agent_id},
          {"rule", signal.rule},
          {"state", protocol::to_string(signal.state)},
          {"severity", protocol::to_string(signal.severity)},
          {"category", protocol::to_string(signal.category)},
          {"fingerprint", signal.fingerprint},
          {"value", signal.value},
          {"time_ms", signal.time_ms},
          {"labels", labels_object(signal.labels)},
          {"message", signal.message},
          {"received_ms", record.received_ms}};
}

nlohmann::json result_json(const storage::ResultRecord& record) {
  const protocol::CommandResult& r = record.result;
  return {{"agent", record.agent_id},
          {"command", r.command_id},
          {"origin", r.origin},
          {"action", r.action},
          {"rule", r.rule},
          {"target", r.target},
          {"params", labels_object(r.params)},
          {"status", protocol::to_string(r.status)},
          {"reason", r.reason},
          {"exit_code", r.exit_code},
          {"started_ms", r.started_ms},
          {"finished_ms", r.finished_ms},
          {"output", r.output},
          {"post_check", r.post_check},
          {"rollback", r.rollback},
          {"rollback_status", r.rollback_status},
          {"plan", r.plan},
          {"received_ms", record.received_ms}};
}

nlohmann::json budget_json(const storage::BudgetRecord& record) {
  const protocol::BudgetReport& b = record.budget;
  return {{"agent", record.agent_id},
          {"target", b.target},
          {"action", b.action},
          {"attempts", b.attempts},
          {"window_start_ms", b.window_start_ms},
          {"next_allowed_ms", b.next_allowed_ms},
          {"needs_person", b.needs_person},
          {"updated_ms", record.updated_ms}};
}

nlohmann::json evidence_json(const storage::EvidenceRecord& record) {
  const protocol::Evidence& e = record.evidence;
  return {{"agent", record.agent_id}, {"fingerprint", e.fingerprint},
          {"rule", e.rule},           {"action", e.action},
          {"time_ms", e.time_ms},     {"status", protocol::to_string(e.status)},
          {"output", e.output},       {"received_ms", record.received_ms}};
}

nlohmann::json log_event_json(const storage::LogEventRecord& record) {
  const protocol::LogEvent& event = record.event;
  nlohmann::json json{{"agent", record.agent_id},
                      {"kind", event.kind == protocol::LogEventKind::gap ? "gap" : "line"},
                      {"source", event.source},
                      {"path", event.path},
                      {"time_ms", event.time_ms},
                      {"offset", event.offset},
                      {"text", event.text},
                      {"rule", event.rule},
                      {"labels", labels_object(event.labels)},
                      {"received_ms", record.received_ms}};
  if (event.template_id) {
    json["template"] = *event.template_id;
  }
  if (event.kind == protocol::LogEventKind::gap) {
    json["bytes"] = event.gap_bytes;
  }
  return json;
}

Result<storage::EventQuery> event_query(const nlohmann::json& request) {
  storage::EventQuery query;
  if (const auto it = request.find("agent"); it != request.end()) {
    if (!it->is_string()) {
      return fail(ErrorCode::invalid_argument, "\"agent\" must be an agent id string");
    }
    query.agent_id = it->get<std::string>();
  }
  if (const auto it = request.find("since_ms"); it != request.end()) {
    if (!it->is_number_integer()) {
      return fail(ErrorCode::invalid_argument, "\"since_ms\" must be Unix milliseconds");
    }
    query.since_ms = it->get<std::int64_t>();
  }
  if (const auto it = request.find("limit"); it != request.end()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() == 0 ||
        it->get<std::uint64_t>() > 10'000) {
      return fail(ErrorCode::invalid_argument, "\"limit\" must be 1 to 10000");
    }
    query.limit = it->get<std::size_t>();
  }
  return query;
}

} // namespace medic::coordinator::admin
