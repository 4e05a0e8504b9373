// SPDX-License-Identifier: Apache-2.0
// The admin requests about candidate diagnosis rules: rules.check (load and validate) and
// rules.test (a backtest: replay a stored period through the candidate rules and report what
// would have happened, touching nothing). Loading, the store reads and the replay all run on
// the storage worker, never on the loop. docs/admin-protocol.md and docs/backtesting.md.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_server.hpp"
#include "coordinator/engine/engine_config.hpp"
#include "coordinator/storage/store.hpp"
#include "protocol/message.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::admin {

// The action catalogs the live coordinator knows (agent id -> its HELLO's actions). Called on
// the loop thread; the copy goes to the worker.
using CatalogSource =
    std::function<std::unordered_map<std::string, std::vector<protocol::ActionSchema>>()>;

class RulesCommands {
public:
  // `config` is the coordinator's (read, never changed, from the worker too: it is immutable
  // once the coordinator runs); `store` is only touched from `storage_worker`'s thread.
  RulesCommands(const engine::EngineConfig& config, uv::Worker& storage_worker,
                storage::Store& store)
      : m_config(config), m_storage_worker(storage_worker), m_store(store) {}

  // Optional: without it every agent's catalog is assumed to hold the rules' actions.
  void set_catalog_source(CatalogSource source) { m_catalogs = std::move(source); }

  // Loop thread. True when `name` is one of this class's requests (answered through `respond`).
  bool handle(const std::string& name, const nlohmann::json& request, const Respond& respond);

private:
  void check(const nlohmann::json& request, const Respond& respond);
  void test(const nlohmann::json& request, const Respond& respond);

  const engine::EngineConfig& m_config;
  uv::Worker& m_storage_worker;
  storage::Store& m_store;
  CatalogSource m_catalogs;
};

} // namespace medic::coordinator::admin
