// SPDX-License-Identifier: Apache-2.0
// medicctl's maintenance commands: maintenance add|list|remove and freeze on|off — the admin
// request for a command line and the human rendering of the answer.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace medic::coordinator::cli {

// nullopt: not one of these commands; a string: bad usage, said how to use it.
[[nodiscard]] std::optional<std::variant<nlohmann::json, std::string>> build_maintenance_request(
    const std::vector<std::string>& words, std::int64_t now_ms);
// False when `command` (the request's "cmd") is not one of these.
bool print_maintenance_answer(const std::string& command, const nlohmann::json& answer);

// "now", a Unix time in ms, a duration from now ("30m", "2h") or an ISO 8601 UTC time
// ("2026-11-23T22:00Z", "2026-11-23T22:00:00Z"); nullopt when none of those.
[[nodiscard]] std::optional<std::int64_t> parse_when(const std::string& text, std::int64_t now_ms);

} // namespace medic::coordinator::cli
