// SPDX-License-Identifier: Apache-2.0
// The admin requests about incidents and decisions: incidents, incident.show, explain,
// incident.false, approvals, approve, deny, run, dry-run, stats. Reads go to the store on the
// storage worker; changes go to the engine on the loop. docs/admin-protocol.md lists them.
#pragma once

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_server.hpp"
#include "coordinator/engine/engine_control.hpp"
#include "coordinator/storage/store.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::admin {

class IncidentCommands {
public:
  IncidentCommands(engine::EngineControl& engine, uv::Worker& storage_worker, storage::Store& store)
      : m_engine(engine), m_storage_worker(storage_worker), m_store(store) {}

  // True when `name` is one of this class's requests (answered through `respond`).
  bool handle(const std::string& name, const nlohmann::json& request, const Respond& respond);

private:
  void list(const nlohmann::json& request, const Respond& respond);
  void show(const nlohmann::json& request, const Respond& respond, bool explain);
  void approve(const nlohmann::json& request, const Respond& respond, bool approved);
  void mark_false(const nlohmann::json& request, const Respond& respond);
  void run(const nlohmann::json& request, const Respond& respond);

  engine::EngineControl& m_engine;
  uv::Worker& m_storage_worker;
  storage::Store& m_store;
};

// The JSON form of an incident and of an audit entry (also used by medicctl --json).
[[nodiscard]] nlohmann::json incident_json(const storage::IncidentRecord& record);
[[nodiscard]] nlohmann::json audit_json(const storage::AuditEntry& entry);
// Plain sentences explaining the decisions in an incident's audit trail.
[[nodiscard]] std::vector<std::string> explain(const storage::IncidentRecord& record,
                                               const std::vector<storage::AuditEntry>& trail);

} // namespace medic::coordinator::admin
