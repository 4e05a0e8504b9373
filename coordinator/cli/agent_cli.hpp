// SPDX-License-Identifier: Apache-2.0
// medicctl agent show ID: the admin request and the human rendering of one agent in full.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace medic::coordinator::cli {

// nullopt: not this command; a string: bad usage, said how to use it.
[[nodiscard]] std::optional<std::variant<nlohmann::json, std::string>> build_agent_request(
    const std::vector<std::string>& words);
// False when `command` (the request's "cmd") is not agent.show.
bool print_agent_answer(const std::string& command, const nlohmann::json& answer);

} // namespace medic::coordinator::cli
