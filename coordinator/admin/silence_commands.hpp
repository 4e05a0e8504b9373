// SPDX-License-Identifier: Apache-2.0
// The admin requests about silences: silence.add, silence.list, silence.expire. Changes go to the
// engine, which answers once the store has committed them (written through: a crash never
// brings back an expired silence or forgets a new one). docs/admin-protocol.md, docs/silences.md.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_server.hpp"
#include "coordinator/engine/engine_control.hpp"

namespace medic::coordinator::admin {

// True when `name` is one of these requests (answered through `respond`). Loop thread.
bool handle_silence(engine::EngineControl& engine, const std::string& name,
                    const nlohmann::json& request, const Respond& respond);

// The silence a silence.add request describes (matchers, starts_ms, ends_ms, comment), checked
// for form only; the engine checks it against the clock. An error names the field.
[[nodiscard]] Result<escalate::Silence> silence_of(const nlohmann::json& request);

} // namespace medic::coordinator::admin
