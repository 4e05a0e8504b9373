// SPDX-License-Identifier: Apache-2.0
// Word lists of the token masker: units that may follow a number, and the names and zones that
// make a date. Kept apart from token_masker.cpp so that the lists are easy to read and extend.
#pragma once

#include <string_view>

namespace medic::logs {

// A unit word after a number (KB, ms, seconds, %, B), any case but "B".
[[nodiscard]] bool is_unit(std::string_view word) noexcept;

// A month or weekday name in title or upper case (Jul, JUL, July, Sun); not lower case.
[[nodiscard]] bool is_date_word(std::string_view word) noexcept;

// A time zone abbreviation that follows a time (UTC, EST, CEST), upper case.
[[nodiscard]] bool is_time_zone(std::string_view word) noexcept;

} // namespace medic::logs
