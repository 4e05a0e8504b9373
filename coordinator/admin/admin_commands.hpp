// SPDX-License-Identifier: Apache-2.0
// What the admin socket can be asked, and how each request is answered. Requests are JSON
// objects {"cmd": "...", ...}; answers are {"ok": true, ...} or
// {"ok": false, "error": {"code": "...", "message": "..."}}. docs/admin-protocol.md lists them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_server.hpp"
#include "coordinator/admin/incident_commands.hpp"
#include "coordinator/admin/rules_commands.hpp"
#include "coordinator/server/ingest_server.hpp"
#include "coordinator/server/zap_handler.hpp"
#include "coordinator/storage/store.hpp"
#include "shared/clock.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::admin {

struct Liveness {
  std::chrono::milliseconds stale_after{15'000}; // no contact this long: stale
  std::chrono::milliseconds lost_after{30'000};  // no contact this long: lost
};

class AdminCommands {
public:
  // `store` is only touched from `storage_worker`'s thread.
  AdminCommands(const Clock& clock, server::IngestServer& ingest, server::ZapHandler& zap,
                uv::Worker& storage_worker, storage::Store& store, Liveness liveness);

  // The requests about incidents and decisions (absent in tests of ingest alone).
  void set_incident_commands(IncidentCommands* incidents) noexcept { m_incidents = incidents; }
  // rules.check and rules.test (absent in tests of ingest alone).
  void set_rules_commands(RulesCommands* rules) noexcept { m_rules = rules; }
  // agent.show's action catalog: the engine's view of one agent (nullopt: no HELLO since the
  // coordinator started, so its catalog is not known). Loop thread. Optional.
  using AgentCatalog =
      std::function<std::optional<std::vector<protocol::ActionSchema>>(const std::string&)>;
  void set_agent_catalog(AgentCatalog source) { m_agent_catalog = std::move(source); }

  // Loop thread.
  void handle(const nlohmann::json& request, const Respond& respond);

private:
  void status(const Respond& respond) const;
  void agents(const Respond& respond);
  void keys_add(const nlohmann::json& request, const Respond& respond);
  void keys_list(const Respond& respond);
  void keys_revoke(const nlohmann::json& request, const Respond& respond);
  void signals(const nlohmann::json& request, const Respond& respond);
  void log_events(const nlohmann::json& request, const Respond& respond);
  // Action outcomes (commands and the agents' own healing), with budgets and evidence.
  void actions(const nlohmann::json& request, const Respond& respond);
  // One agent in full: record, state, keys, open incidents, budgets, catalog (agent_show.cpp).
  void agent_show(const nlohmann::json& request, const Respond& respond);
  // Runs `query` on the storage worker and `answer` with its result back on the loop.
  template <class Query, class Answer>
  void on_storage(const Respond& respond, Query query, Answer answer);
  [[nodiscard]] std::string agent_state(const std::string& agent_id,
                                        std::int64_t last_seen_unix_ms) const;

  const Clock& m_clock;
  server::IngestServer& m_ingest;
  server::ZapHandler& m_zap;
  uv::Worker& m_storage_worker;
  storage::Store& m_store;
  Liveness m_liveness;
  std::int64_t m_started_ms;
  IncidentCommands* m_incidents = nullptr;
  RulesCommands* m_rules = nullptr;
  AgentCatalog m_agent_catalog;
};

// The JSON form of one agent, shared by the admin answer and medicctl's --json output.
[[nodiscard]] nlohmann::json agent_json(const storage::AgentRecord& agent);
// event_json.cpp
[[nodiscard]] nlohmann::json signal_json(const storage::SignalRecord& record);
[[nodiscard]] nlohmann::json log_event_json(const storage::LogEventRecord& record);
[[nodiscard]] nlohmann::json result_json(const storage::ResultRecord& record);
[[nodiscard]] nlohmann::json budget_json(const storage::BudgetRecord& record);
[[nodiscard]] nlohmann::json evidence_json(const storage::EvidenceRecord& record);
// Reads {"agent", "since_ms", "limit"} of a signals/logs request; an error text when bad.
[[nodiscard]] Result<storage::EventQuery> event_query(const nlohmann::json& request);

} // namespace medic::coordinator::admin
