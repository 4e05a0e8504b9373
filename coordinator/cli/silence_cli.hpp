// SPDX-License-Identifier: Apache-2.0
// medicctl's silence commands: silence add|list|expire — the admin request for a command line and
// the human rendering of the answer (docs/silences.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace medic::coordinator::cli {

// nullopt: not one of these commands; a string: bad usage, said how to use it.
[[nodiscard]] std::optional<std::variant<nlohmann::json, std::string>> build_silence_request(
    const std::vector<std::string>& words, std::int64_t now_ms);
// False when `command` (the request's "cmd") is not one of these.
bool print_silence_answer(const std::string& command, const nlohmann::json& answer);

} // namespace medic::coordinator::cli
