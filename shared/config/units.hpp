// SPDX-License-Identifier: Apache-2.0
// Parsing of the unit-bearing values config files use: durations ("500ms", "2s", "5m") and byte
// sizes ("64MiB", "1GB").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.hpp"

namespace medic::config {

// Integer followed by ms, s, m, h or d. A bare number is not accepted: "5" is ambiguous.
[[nodiscard]] Result<std::chrono::milliseconds> parse_duration(std::string_view text);
[[nodiscard]] std::string format_duration(std::chrono::milliseconds value);

// Integer followed by an optional B, KB/MB/GB (powers of 1000) or KiB/MiB/GiB (powers of 1024).
[[nodiscard]] Result<std::uint64_t> parse_size(std::string_view text);

} // namespace medic::config
