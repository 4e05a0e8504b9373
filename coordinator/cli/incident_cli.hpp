// SPDX-License-Identifier: Apache-2.0
// medicctl's commands about incidents and decisions: incidents, incident show|false, explain,
// approvals, approve, deny, run, dry-run, stats — the admin request for a command line and the
// human rendering of the answer.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace medic::coordinator::cli {

// nullopt: not one of these commands; a string: bad usage, said how to use it.
[[nodiscard]] std::optional<std::variant<nlohmann::json, std::string>> build_incident_request(
    const std::vector<std::string>& words);

// False when `command` (the request's "cmd") is not one of these.
bool print_incident_answer(const std::string& command, const nlohmann::json& answer);

} // namespace medic::coordinator::cli
