// SPDX-License-Identifier: Apache-2.0
#include "coordinator/admin/incident_commands.hpp"

#include <set>

#include <fmt/format.h>

#include "coordinator/admin/admin_reply.hpp"
#include "coordinator/admin/maintenance_commands.hpp"
#include "coordinator/admin/silence_commands.hpp"
#include "coordinator/storage/labels_json.hpp"

namespace medic::coordinator::admin {

namespace {

constexpr std::size_t k_max_trail = 10'000;

// The audit kinds that record a decision or its consequence (what `explain` tells).
const std::set<std::string, std::less<>> k_decision_kinds = {
    "opened",   "reopened", "linked",    "fleet",    "flapping", "diagnosed", "decided",
    "held",     "approval", "approved",  "denied",   "expired",  "command",   "result",
    "verified", "failed",   "escalated", "autonomy", "resolved", "dry-run",   "false-positive",
    "silenced", "silence"};

Result<std::vector<protocol::Label>> params_of(const nlohmann::json& request) {
  std::vector<protocol::Label> params;
  const auto it = request.find("params");
  if (it == request.end()) {
    return params;
  }
  if (!it->is_object()) {
    return fail(ErrorCode::invalid_argument, "\"params\" must be an object of strings");
  }
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string()) {
      return fail(ErrorCode::invalid_argument, "param '" + name + "' must be a string");
    }
    params.push_back({name, value.get<std::string>()});
  }
  return params;
}

} // namespace

bool IncidentCommands::handle(const std::string& name, const nlohmann::json& request,
                              const Respond& respond) {
  if (name == "incidents") {
    list(request, respond);
  } else if (name == "incident.show") {
    show(request, respond, false);
  } else if (name == "explain") {
    show(request, respond, true);
  } else if (name == "incident.false") {
    mark_false(request, respond);
  } else if (name == "approvals") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& a : m_engine.approvals()) {
      list.push_back({{"id", a.id},
                      {"incident", a.incident_id},
                      {"agent", a.agent_id},
                      {"host", a.host},
                      {"action", a.action},
                      {"params", nlohmann::json::parse(storage::labels_to_json(a.params))},
                      {"risk", a.risk},
                      {"reason", a.reason},
                      {"requested_ms", a.requested_ms},
                      {"expires_ms", a.expires_ms}});
    }
    respond({{"ok", true}, {"approvals", std::move(list)}});
  } else if (name == "approve" || name == "deny") {
    approve(request, respond, name == "approve");
  } else if (name == "run") {
    run(request, respond);
  } else if (name == "dry-run") {
    const auto on = request.find("on");
    if (on == request.end() || !on->is_boolean()) {
      respond(failure("bad-request", "\"on\" must be true or false"));
      return true;
    }
    m_engine.set_dry_run(on->get<bool>(), actor_of(request));
    respond({{"ok", true}, {"dry_run", on->get<bool>()}});
  } else if (name == "stats") {
    respond({{"ok", true}, {"stats", m_engine.status()}});
  } else if (!handle_maintenance(m_engine, name, request, respond) &&
             !handle_silence(m_engine, name, request, respond)) {
    return false;
  }
  return true;
}

void IncidentCommands::list(const nlohmann::json& request, const Respond& respond) {
  storage::IncidentQuery query;
  if (const auto open = request.find("open"); open != request.end() && open->is_boolean()) {
    query.open_only = open->get<bool>();
  }
  query.host = string_field(request, "host");
  if (const std::string severity = string_field(request, "severity"); !severity.empty()) {
    const auto parsed = protocol::parse_severity(severity);
    if (!parsed) {
      respond(failure("bad-request", "severity '" + severity +
                                         "' is not one of critical, high, medium, low, info"));
      return;
    }
    query.min_severity = *parsed;
  }
  query.since_ms = static_cast<std::int64_t>(unsigned_field(request, "since_ms").value_or(0));
  query.limit = std::min<std::uint64_t>(unsigned_field(request, "limit").value_or(100), 10'000);
  query_storage(
      m_storage_worker, m_store, respond,
      [query](storage::Store& store) { return store.list_incidents(query); },
      [respond](std::vector<storage::IncidentRecord> records) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& record : records) {
          list.push_back(incident_json(record));
        }
        respond({{"ok", true}, {"incidents", std::move(list)}});
      });
}

void IncidentCommands::show(const nlohmann::json& request, const Respond& respond,
                            bool explaining) {
  const auto id = unsigned_field(request, "id");
  if (!id || *id == 0) {
    respond(failure("bad-request", "\"id\" must be an incident number (medicctl incidents)"));
    return;
  }
  struct Answer {
    std::optional<storage::IncidentRecord> incident;
    std::vector<storage::AuditEntry> trail;
  };
  query_storage(
      m_storage_worker, m_store, respond,
      [id = *id](storage::Store& store) -> Result<Answer> {
        auto incident = store.get_incident(id);
        if (!incident) {
          return fail(std::move(incident).error());
        }
        auto trail = store.incident_audit(id, k_max_trail);
        if (!trail) {
          return fail(std::move(trail).error());
        }
        return Answer{std::move(*incident), std::move(*trail)};
      },
      [respond, id = *id, explaining](Answer answer) {
        if (!answer.incident) {
          respond(failure("not-found", "no incident " + std::to_string(id)));
          return;
        }
        nlohmann::json reply = {{"ok", true}, {"incident", incident_json(*answer.incident)}};
        if (explaining) {
          reply["explanation"] = explain(*answer.incident, answer.trail);
        } else {
          nlohmann::json timeline = nlohmann::json::array();
          for (const auto& entry : answer.trail) {
            timeline.push_back(audit_json(entry));
          }
          reply["timeline"] = std::move(timeline);
        }
        respond(std::move(reply));
      });
}

void IncidentCommands::approve(const nlohmann::json& request, const Respond& respond,
                               bool approved) {
  const auto id = unsigned_field(request, "id");
  if (!id) {
    respond(failure("bad-request", "\"id\" must be an approval number (medicctl approvals)"));
    return;
  }
  const std::string actor = actor_of(request);
  auto outcome = approved ? m_engine.approve(*id, actor) : m_engine.deny(*id, actor);
  if (!outcome) {
    const bool missing = outcome.error().code() == ErrorCode::not_found;
    respond(failure(missing ? "not-found" : "refused", outcome.error().message()));
    return;
  }
  respond({{"ok", true}, {"outcome", *outcome}});
}

void IncidentCommands::mark_false(const nlohmann::json& request, const Respond& respond) {
  const auto id = unsigned_field(request, "id");
  if (!id || *id == 0) {
    respond(failure("bad-request", "\"id\" must be an incident number"));
    return;
  }
  if (auto marked = m_engine.mark_false(*id, actor_of(request)); !marked) {
    respond(failure(marked.error().code() == ErrorCode::not_found ? "not-found" : "refused",
                    marked.error().message()));
    return;
  }
  respond({{"ok", true}});
}

void IncidentCommands::run(const nlohmann::json& request, const Respond& respond) {
  engine::ManualAction action;
  action.host_or_agent = string_field(request, "host");
  action.action = string_field(request, "action");
  action.incident_id = unsigned_field(request, "incident").value_or(0);
  if (action.host_or_agent.empty() || action.action.empty()) {
    respond(failure("bad-request", "\"host\" (a host name or agent id) and \"action\" are needed"));
    return;
  }
  auto params = params_of(request);
  if (!params) {
    respond(failure("bad-request", params.error().message()));
    return;
  }
  action.params = std::move(*params);
  auto outcome = m_engine.run_manual(action, actor_of(request));
  if (!outcome) {
    const bool missing = outcome.error().code() == ErrorCode::not_found;
    respond(failure(missing ? "not-found" : "refused", outcome.error().message()));
    return;
  }
  respond({{"ok", true}, {"outcome", *outcome}});
}

nlohmann::json incident_json(const storage::IncidentRecord& record) {
  const correlate::Incident& i = record.incident;
  nlohmann::json diagnosis = nlohmann::json::parse(record.diagnosis_json, nullptr, false);
  if (diagnosis.is_discarded()) {
    diagnosis = nlohmann::json::object();
  }
  return {{"id", i.id},
          {"kind", correlate::to_string(i.kind)},
          {"state", correlate::to_string(i.state)},
          {"fingerprint", i.fingerprint},
          {"agent", i.agent_id},
          {"host", i.host},
          {"service", i.service},
          {"rule", i.rule},
          {"category", protocol::to_string(i.category)},
          {"severity", protocol::to_string(i.severity)},
          {"layer", correlate::to_string(i.layer)},
          {"labels", nlohmann::json::parse(storage::labels_to_json(i.labels))},
          {"message", i.message},
          {"value", i.value},
          {"first_seen_ms", i.first_seen_ms},
          {"last_seen_ms", i.last_seen_ms},
          {"resolved_ms", i.resolved_ms},
          {"count", i.count},
          {"reopened", i.reopened},
          {"root_id", i.root_id},
          {"link", correlate::to_string(i.link)},
          {"flapping", i.flapping},
          {"fleet_hosts", i.fleet_hosts},
          {"diagnosis", std::move(diagnosis)},
          {"false_positive", record.false_positive},
          {"escalated", record.escalated}};
}

nlohmann::json audit_json(const storage::AuditEntry& entry) {
  nlohmann::json detail = nlohmann::json::parse(entry.detail_json, nullptr, false);
  if (detail.is_discarded()) {
    detail = nlohmann::json::object();
  }
  return {{"seq", entry.seq},           {"incident", entry.incident_id},
          {"time_ms", entry.time_ms},   {"actor", entry.actor},
          {"kind", entry.kind},         {"text", entry.text},
          {"detail", std::move(detail)}};
}

std::vector<std::string> explain(const storage::IncidentRecord& record,
                                 const std::vector<storage::AuditEntry>& trail) {
  std::vector<std::string> sentences;
  const std::int64_t start = record.incident.first_seen_ms;
  for (const auto& entry : trail) {
    if (!k_decision_kinds.contains(entry.kind)) {
      continue;
    }
    const double seconds = static_cast<double>(entry.time_ms - start) / 1000.0;
    std::string sentence = fmt::format("+{:.1f}s {}: {}", seconds, entry.actor, entry.text);
    // A decision's ranking, when it has one: every candidate with its score and why.
    const auto detail = nlohmann::json::parse(entry.detail_json, nullptr, false);
    if (!detail.is_discarded() && detail.contains("ranking") && detail["ranking"].is_array()) {
      for (const auto& ranked : detail["ranking"]) {
        sentence += fmt::format("\n    candidate {}: score {:.3f}, {}",
                                ranked.value("action", std::string("?")),
                                ranked.value("score", 0.0), ranked.value("why", std::string()));
      }
    }
    sentences.push_back(std::move(sentence));
  }
  if (sentences.empty()) {
    sentences.emplace_back("nothing was decided about this incident yet");
  }
  return sentences;
}

} // namespace medic::coordinator::admin
