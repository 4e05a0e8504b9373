// SPDX-License-Identifier: Apache-2.0
// Helpers the detectors' validate() functions share, so every message names the field and the
// bad value the same way ("window 0ms must be positive"). Internal to shared/detect.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "shared/error.hpp"

namespace medic::detect::spec_check {

// Shortest text that reads back as the same double: "85", "0.5", "1e+30".
[[nodiscard]] std::string number(double value);

// "1500ms", "2s", "30m", "4h": the largest unit that divides the value exactly.
[[nodiscard]] std::string duration(std::chrono::milliseconds value);

[[nodiscard]] tl::unexpected<Error> invalid(std::string message);

[[nodiscard]] Result<void> finite(std::string_view field, double value);
[[nodiscard]] Result<void> positive(std::string_view field, std::chrono::milliseconds value);
[[nodiscard]] Result<void> not_negative(std::string_view field, std::chrono::milliseconds value);
// min <= value <= max; the message names both bounds.
[[nodiscard]] Result<void> in_range(std::string_view field, double value, double min, double max);
[[nodiscard]] Result<void> in_range(std::string_view field, std::size_t value, std::size_t min,
                                    std::size_t max);

} // namespace medic::detect::spec_check
