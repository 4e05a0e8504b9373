// SPDX-License-Identifier: Apache-2.0
// agent.show: one agent in full — what the store holds about it (record, latest samples, keys,
// open incidents, budgets), its liveness from ingest, and its action catalog from the engine.
#include <algorithm>

#include "coordinator/admin/admin_commands.hpp"
#include "coordinator/admin/admin_reply.hpp"

namespace medic::coordinator::admin {
namespace {

constexpr std::size_t k_max_incidents = 1000; // open incidents read for the agent's host

nlohmann::json catalog_json(const std::vector<protocol::ActionSchema>& catalog) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& action : catalog) {
    nlohmann::json params = nlohmann::json::array();
    for (const auto& p : action.params) {
      nlohmann::json param{{"name", p.name}, {"type", p.type}, {"required", p.required}};
      if (!p.allowed.empty()) {
        param["allowed"] = p.allowed;
      }
      if (!p.pattern.empty()) {
        param["pattern"] = p.pattern;
      }
      if (p.min) {
        param["min"] = *p.min;
      }
      if (p.max) {
        param["max"] = *p.max;
      }
      params.push_back(std::move(param));
    }
    list.push_back({{"name", action.name}, {"risk", action.risk}, {"params", std::move(params)}});
  }
  return list;
}

struct AgentDetail {
  std::optional<storage::AgentRecord> agent;
  std::vector<storage::AgentKey> keys;
  std::vector<storage::IncidentRecord> incidents;
  std::vector<storage::BudgetRecord> budgets;
};

// Storage worker thread.
Result<AgentDetail> read_detail(storage::Store& store, const std::string& id) {
  AgentDetail detail;
  auto agents = store.list_agents();
  if (!agents) {
    return fail(std::move(agents).error());
  }
  const auto it = std::find_if(agents->begin(), agents->end(),
                               [&](const storage::AgentRecord& a) { return a.id == id; });
  if (it == agents->end()) {
    return detail;
  }
  detail.agent = std::move(*it);
  auto keys = store.list_keys();
  if (!keys) {
    return fail(std::move(keys).error());
  }
  std::copy_if(keys->begin(), keys->end(), std::back_inserter(detail.keys),
               [&](const storage::AgentKey& key) { return key.agent_id == id; });
  storage::IncidentQuery query;
  query.open_only = true;
  query.host = detail.agent->host;
  query.limit = k_max_incidents;
  auto incidents = query.host.empty() ? Result<std::vector<storage::IncidentRecord>>()
                                      : store.list_incidents(query);
  if (!incidents) {
    return fail(std::move(incidents).error());
  }
  std::copy_if(incidents->begin(), incidents->end(), std::back_inserter(detail.incidents),
               [&](const storage::IncidentRecord& r) { return r.incident.agent_id == id; });
  auto budgets = store.list_budgets(id);
  if (!budgets) {
    return fail(std::move(budgets).error());
  }
  detail.budgets = std::move(*budgets);
  return detail;
}

} // namespace

void AdminCommands::agent_show(const nlohmann::json& request, const Respond& respond) {
  const std::string id = string_field(request, "id");
  if (id.empty()) {
    respond(failure("bad-request", "\"id\" must name an agent (`medicctl agents` lists them)"));
    return;
  }
  query_storage(
      m_storage_worker, m_store, respond,
      [id](storage::Store& store) { return read_detail(store, id); },
      [this, id, respond](AgentDetail detail) {
        if (!detail.agent) {
          respond(failure("not-found", "no agent '" + id +
                                           "' has reported to this coordinator; "
                                           "`medicctl agents` lists the ones that have"));
          return;
        }
        auto agent = agent_json(*detail.agent);
        agent["state"] = agent_state(detail.agent->id, detail.agent->last_seen_ms);
        nlohmann::json keys = nlohmann::json::array();
        for (const auto& key : detail.keys) {
          keys.push_back({{"key", key.public_key},
                          {"added_ms", key.added_ms},
                          {"revoked_ms", key.revoked_ms},
                          {"state", key.revoked_ms == 0 ? "active" : "revoked"}});
        }
        agent["keys"] = std::move(keys);
        nlohmann::json incidents = nlohmann::json::array();
        for (const auto& record : detail.incidents) {
          incidents.push_back(incident_json(record));
        }
        agent["open_incidents"] = std::move(incidents);
        nlohmann::json budgets = nlohmann::json::array();
        for (const auto& record : detail.budgets) {
          budgets.push_back(budget_json(record));
        }
        agent["budgets"] = std::move(budgets);
        const auto catalog = m_agent_catalog ? m_agent_catalog(id)
                                             : std::optional<std::vector<protocol::ActionSchema>>();
        agent["catalog_known"] = catalog.has_value();
        agent["catalog"] = catalog ? catalog_json(*catalog) : nlohmann::json::array();
        respond({{"ok", true}, {"agent", std::move(agent)}});
      });
}

} // namespace medic::coordinator::admin
