// SPDX-License-Identifier: Apache-2.0
// What the admin socket can be asked, and how each request is answered. Requests are JSON
// objects {"cmd": "...", ...}; answers are {"ok": true, ...} or
// {"ok": false, "error": {"code": "...", "message": "..."}}. docs/admin-protocol.md lists them.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_server.hpp"
#include "coordinator/server/ingest_server.hpp"
#include "coordinator/storage/store.hpp"
#include "shared/clock.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::admin {

class AdminCommands {
public:
  // `store` is only touched from `storage_worker`'s thread.
  AdminCommands(const Clock& clock, const server::IngestServer& ingest, uv::Worker& storage_worker,
                storage::Store& store);

  // Loop thread.
  void handle(const nlohmann::json& request, const Respond& respond);

private:
  void status(const Respond& respond) const;
  void agents(const Respond& respond);

  const Clock& m_clock;
  const server::IngestServer& m_ingest;
  uv::Worker& m_storage_worker;
  storage::Store& m_store;
  std::int64_t m_started_ms;
};

// The JSON form of one agent, shared by the admin answer and medicctl's --json output.
[[nodiscard]] nlohmann::json agent_json(const storage::AgentRecord& agent);

} // namespace medic::coordinator::admin
