// SPDX-License-Identifier: Apache-2.0
// The admin requests about maintenance: maintenance.add, maintenance.list, maintenance.remove
// and freeze. Changes go to the engine, which answers once the store has them (written through:
// a crash never brings back a removed window or forgets a new one). docs/admin-protocol.md.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_server.hpp"
#include "coordinator/engine/engine_control.hpp"

namespace medic::coordinator::admin {

// True when `name` is one of these requests (answered through `respond`).
bool handle_maintenance(engine::EngineControl& engine, const std::string& name,
                        const nlohmann::json& request, const Respond& respond);

} // namespace medic::coordinator::admin
