// SPDX-License-Identifier: Apache-2.0
#include "coordinator/admin/admin_commands.hpp"

#include <algorithm>

#include "coordinator/admin/admin_reply.hpp"
#include "shared/build_info.hpp"
#include "shared/security/curve_keys.hpp"

namespace medic::coordinator::admin {

namespace {

bool valid_agent_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_' ||
           c == ':' || c == '@';
  });
}

nlohmann::json key_json(const storage::AgentKey& key) {
  return {{"agent", key.agent_id},
          {"key", key.public_key},
          {"added_ms", key.added_ms},
          {"revoked_ms", key.revoked_ms},
          {"state", key.revoked_ms == 0 ? "active" : "revoked"}};
}

} // namespace

AdminCommands::AdminCommands(const Clock& clock, server::IngestServer& ingest,
                             server::ZapHandler& zap, uv::Worker& storage_worker,
                             storage::Store& store, Liveness liveness)
    : m_clock(clock),
      m_ingest(ingest),
      m_zap(zap),
      m_storage_worker(storage_worker),
      m_store(store),
      m_liveness(liveness),
      m_started_ms(clock.now_unix_ms()) {}

void AdminCommands::handle(const nlohmann::json& request, const Respond& respond) {
  const std::string name = string_field(request, "cmd");
  if (name.empty()) {
    respond(failure("bad-request", "the request needs a \"cmd\" string"));
  } else if (name == "status") {
    status(respond);
  } else if (name == "agents") {
    agents(respond);
  } else if (name == "keys.add") {
    keys_add(request, respond);
  } else if (name == "keys.list") {
    keys_list(respond);
  } else if (name == "keys.revoke") {
    keys_revoke(request, respond);
  } else if (name == "signals") {
    signals(request, respond);
  } else if (name == "logs") {
    log_events(request, respond);
  } else if (name == "actions") {
    actions(request, respond);
  } else if (name == "agent.show") {
    agent_show(request, respond);
  } else if (m_incidents != nullptr && m_incidents->handle(name, request, respond)) {
    return;
  } else if (m_rules != nullptr && m_rules->handle(name, request, respond)) {
    return;
  } else {
    respond(failure(
        "unknown-command",
        "unknown command '" + name +
            "' (status, agents, agent.show, signals, logs, actions, keys.add, keys.list, "
            "keys.revoke, incidents, incident.show, explain, incident.false, approvals, approve, "
            "deny, run, dry-run, stats, rules.check, rules.test, reload, silence.add, "
            "silence.list, silence.expire)"));
  }
}

template <class Query, class Answer>
void AdminCommands::on_storage(const Respond& respond, Query query, Answer answer) {
  query_storage(m_storage_worker, m_store, respond, std::move(query), std::move(answer));
}

void AdminCommands::status(const Respond& respond) const {
  const auto& c = m_ingest.counters();
  const auto& z = m_zap.counters();
  respond({{"ok", true},
           {"version", build_info::k_version},
           {"started_ms", m_started_ms},
           {"now_ms", m_clock.now_unix_ms()},
           {"listen", m_ingest.endpoint()},
           {"connected_agents", m_ingest.peers().size()},
           {"enrolled_keys", m_zap.allowed()},
           {"storage_queue",
            {{"queued", m_ingest.batches_waiting()}, {"capacity", m_ingest.batches_bound()}}},
           {"auth", {{"admitted", z.admitted}, {"refused", z.refused}}},
           {"ingest",
            {{"frames", c.frames},
             {"hellos", c.hellos},
             {"batches", c.batches},
             {"samples", c.samples},
             {"duplicates", c.duplicates},
             {"heartbeats", c.heartbeats},
             {"results", c.results},
             {"malformed", c.malformed},
             {"unauthorized", c.unauthorized},
             {"refused_busy", c.refused_busy},
             {"paused", c.paused},
             {"storage_errors", c.storage_errors},
             {"acks_sent", c.acks_sent},
             {"replies_failed", c.replies_failed},
             {"cut_offs", c.cut_offs}}}});
}

std::string AdminCommands::agent_state(const std::string& agent_id,
                                       std::int64_t last_seen_unix_ms) const {
  std::int64_t silent_ms = m_clock.now_unix_ms() - last_seen_unix_ms;
  const auto& peers = m_ingest.peers();
  if (const auto it = peers.find(agent_id); it != peers.end()) {
    silent_ms = std::min(silent_ms, m_clock.monotonic_ms() - it->second.last_contact_ms);
  }
  if (silent_ms >= m_liveness.lost_after.count()) {
    return "lost";
  }
  return silent_ms >= m_liveness.stale_after.count() ? "stale" : "live";
}

void AdminCommands::agents(const Respond& respond) {
  on_storage(
      respond, [](storage::Store& store) { return store.list_agents(); },
      [this, respond](std::vector<storage::AgentRecord> listed) {
        nlohmann::json agents = nlohmann::json::array();
        for (const auto& agent : listed) {
          auto entry = agent_json(agent);
          entry["state"] = agent_state(agent.id, agent.last_seen_ms);
          agents.push_back(std::move(entry));
        }
        respond({{"ok", true}, {"agents", std::move(agents)}});
      });
}

void AdminCommands::keys_add(const nlohmann::json& request, const Respond& respond) {
  const std::string agent = string_field(request, "agent");
  const std::string key = string_field(request, "key");
  if (!valid_agent_id(agent)) {
    respond(failure("bad-request",
                    "\"agent\" must be an agent id of 1-64 letters, digits and "
                    ". - _ : @"));
    return;
  }
  if (!security::is_z85_key(key)) {
    respond(failure("bad-request",
                    "\"key\" must be a 40-character Z85 CURVE public key (the "
                    "agent's agent.key.pub)"));
    return;
  }
  const storage::AgentKey record{key, agent, m_clock.now_unix_ms(), 0};
  on_storage(
      respond,
      [record](storage::Store& store) { return store.add_key(record).map([] { return true; }); },
      [this, record, respond](bool) {
        m_zap.allow(record.public_key, record.agent_id);
        respond({{"ok", true}, {"key", key_json(record)}});
      });
}

void AdminCommands::keys_list(const Respond& respond) {
  on_storage(
      respond, [](storage::Store& store) { return store.list_keys(); },
      [respond](std::vector<storage::AgentKey> keys) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& key : keys) {
          list.push_back(key_json(key));
        }
        respond({{"ok", true}, {"keys", std::move(list)}});
      });
}

void AdminCommands::keys_revoke(const nlohmann::json& request, const Respond& respond) {
  const std::string target = string_field(request, "agent_or_key");
  if (target.empty()) {
    respond(failure("bad-request", "\"agent_or_key\" names an agent id or a public key"));
    return;
  }
  const std::int64_t now_ms = m_clock.now_unix_ms();
  on_storage(
      respond,
      [target, now_ms](storage::Store& store) { return store.revoke_keys(target, now_ms); },
      [this, target, respond](std::vector<storage::AgentKey> revoked) {
        if (revoked.empty()) {
          respond(failure("not-found", "no active key for '" + target + "'"));
          return;
        }
        nlohmann::json list = nlohmann::json::array();
        for (const auto& key : revoked) {
          m_zap.revoke(key.public_key);
          list.push_back(key_json(key));
        }
        m_ingest.cut_off(revoked.front().agent_id);
        respond({{"ok", true}, {"revoked", std::move(list)}});
      });
}

void AdminCommands::signals(const nlohmann::json& request, const Respond& respond) {
  auto query = event_query(request);
  if (!query) {
    respond(failure("bad-request", query.error().message()));
    return;
  }
  on_storage(
      respond, [query = *query](storage::Store& store) { return store.recent_signals(query); },
      [respond](std::vector<storage::SignalRecord> records) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& record : records) {
          list.push_back(signal_json(record));
        }
        respond({{"ok", true}, {"signals", std::move(list)}});
      });
}

void AdminCommands::log_events(const nlohmann::json& request, const Respond& respond) {
  auto query = event_query(request);
  if (!query) {
    respond(failure("bad-request", query.error().message()));
    return;
  }
  on_storage(
      respond, [query = *query](storage::Store& store) { return store.recent_log_events(query); },
      [respond](std::vector<storage::LogEventRecord> records) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& record : records) {
          list.push_back(log_event_json(record));
        }
        respond({{"ok", true}, {"logs", std::move(list)}});
      });
}

void AdminCommands::actions(const nlohmann::json& request, const Respond& respond) {
  auto query = event_query(request);
  if (!query) {
    respond(failure("bad-request", query.error().message()));
    return;
  }
  struct Answer {
    std::vector<storage::ResultRecord> results;
    std::vector<storage::BudgetRecord> budgets;
    std::vector<storage::EvidenceRecord> evidence;
  };
  on_storage(
      respond,
      [query = *query](storage::Store& store) -> Result<Answer> {
        auto results = store.recent_results(query);
        auto budgets = results ? store.list_budgets(query.agent_id)
                               : Result<std::vector<storage::BudgetRecord>>(fail(results.error()));
        auto evidence = budgets
                            ? store.recent_evidence(query)
                            : Result<std::vector<storage::EvidenceRecord>>(fail(budgets.error()));
        if (!evidence) {
          return fail(std::move(evidence).error());
        }
        return Answer{std::move(*results), std::move(*budgets), std::move(*evidence)};
      },
      [respond](Answer answer) {
        nlohmann::json results = nlohmann::json::array();
        for (const auto& record : answer.results) {
          results.push_back(result_json(record));
        }
        nlohmann::json budgets = nlohmann::json::array();
        for (const auto& record : answer.budgets) {
          budgets.push_back(budget_json(record));
        }
        nlohmann::json evidence = nlohmann::json::array();
        for (const auto& record : answer.evidence) {
          evidence.push_back(evidence_json(record));
        }
        respond({{"ok", true},
                 {"results", std::move(results)},
                 {"budgets", std::move(budgets)},
                 {"evidence", std::move(evidence)}});
      });
}

nlohmann::json agent_json(const storage::AgentRecord& agent) {
  nlohmann::json latest = nlohmann::json::array();
  for (const auto& sample : agent.latest) {
    latest.push_back({{"name", sample.name},
                      {"labels", sample.labels},
                      {"value", sample.value},
                      {"time_ms", sample.time_ms}});
  }
  nlohmann::json labels = nlohmann::json::parse(agent.labels_json, nullptr, false);
  if (labels.is_discarded()) {
    labels = nlohmann::json::object();
  }
  return {{"id", agent.id},
          {"host", agent.host},
          {"version", agent.version},
          {"labels", std::move(labels)},
          {"first_seen_ms", agent.first_seen_ms},
          {"last_seen_ms", agent.last_seen_ms},
          {"last_seq", agent.last_seq},
          {"batches", agent.batches},
          {"samples", agent.samples},
          {"dropped_batches", agent.dropped_batches},
          {"dropped_items", agent.dropped_items},
          {"latest", std::move(latest)}};
}

} // namespace medic::coordinator::admin
