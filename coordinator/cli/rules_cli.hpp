// SPDX-License-Identifier: Apache-2.0
// medicctl's commands about candidate diagnosis rules: `rules check FILE` and `rules test
// --rules FILE [--since WHEN] [--until WHEN] [--limit N] [--assume 5s]` (a backtest). medicctl
// reads FILE itself and sends its text, so the coordinator needs no access to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/error.hpp"

namespace medic::coordinator::cli {

// nullopt: not one of these commands; a string: bad usage (or an unreadable file), said how.
[[nodiscard]] std::optional<std::variant<nlohmann::json, std::string>> build_rules_request(
    const std::vector<std::string>& words);

// False when `command` (the request's "cmd") is not one of these.
bool print_rules_answer(const std::string& command, const nlohmann::json& answer);

// A point in time: a duration ago ("2h", "30m"), Unix milliseconds ("1763900000000"), or UTC
// ISO 8601 ("2026-11-23", "2026-11-23T10:00", "2026-11-23T10:00:30Z").
[[nodiscard]] Result<std::int64_t> parse_when(std::string_view text, std::int64_t now_ms);

} // namespace medic::coordinator::cli
