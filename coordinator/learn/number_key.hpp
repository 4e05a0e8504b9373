// SPDX-License-Identifier: Apache-2.0
// Decimal config keys (fractions such as plan.promote_success: 0.9) on top of the shared key
// table, which has strings, integers, sizes and durations but no decimals: the key is a string
// whose check parses it, range-checks it and stores the number.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "shared/config/schema.hpp"

namespace medic::coordinator::learn {

// A finite decimal ("0.9", "1.645", "1e-3"); nullopt for anything else, trailing junk included.
[[nodiscard]] std::optional<double> parse_decimal(std::string_view text) noexcept;

// "0.9", "1.645": the shortest text that reads back as `value`.
[[nodiscard]] std::string format_decimal(double value);

// Registers `key` as a decimal in [min, max]. `text` is where the schema keeps the value as
// written (it must live as long as `target`); it is set from `target` first, so the default
// shown in the key reference is the struct's default.
void add_decimal(medic::config::Schema& schema, std::string key, double& target, std::string& text,
                 double min, double max, std::string doc);

} // namespace medic::coordinator::learn
