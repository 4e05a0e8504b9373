// SPDX-License-Identifier: Apache-2.0
// Allocation-free helpers the /proc parsers share: line and token walking, whole-token number
// parsing, cumulative counter deltas and '*' name patterns. Errors are built only on failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "shared/error.hpp"

namespace medic::agent::sample {

// Walks the lines of a text, numbering them from 1. A last line without '\n' is still a line.
class LineCursor {
public:
  explicit LineCursor(std::string_view text) noexcept : m_rest(text) {}

  // False at the end of the text; otherwise `line` is the next line without its '\n'.
  [[nodiscard]] bool next(std::string_view& line) noexcept;
  [[nodiscard]] std::size_t line_number() const noexcept { return m_line; }

private:
  std::string_view m_rest;
  std::size_t m_line = 0;
  bool m_done = false;
};

[[nodiscard]] constexpr bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

// The next run of non-blank characters, removed from `rest` with the blanks before it; empty
// when nothing but blanks is left.
[[nodiscard]] std::string_view next_token(std::string_view& rest) noexcept;

[[nodiscard]] std::string_view trim_blanks(std::string_view text) noexcept;

// The whole token must be the number: "12x", "-1", "" and values past 64 bits are refused.
[[nodiscard]] bool parse_u64(std::string_view token, std::uint64_t& value) noexcept;
[[nodiscard]] bool parse_i64(std::string_view token, std::int64_t& value) noexcept;
[[nodiscard]] bool parse_double(std::string_view token, double& value) noexcept;

// "<file>: line <n>: <what>", the form every parse error of this folder takes.
[[nodiscard]] Error line_error(std::string_view file, std::size_t line, std::string_view what);

// Bounds a counter that may have wrapped at 32 bits: kernel counters printed as `unsigned int`
// (the millisecond columns of /proc/diskstats) or kept by old drivers as 32-bit (some NICs)
// wrap at 2^32, while the 64-bit ones never wrap in practice.
inline constexpr std::uint64_t k_counter_wrap_32 = std::uint64_t{1} << 32;

// How much a cumulative counter grew from `before` to `after`. When it went back, a 32-bit wrap
// is assumed if `before` fit in 32 bits and the wrapped difference is below 2^31; otherwise the
// counter was reset (device re-created, module reloaded) and the result is nullopt: the caller
// starts over from `after` instead of reporting a nonsense rate.
[[nodiscard]] std::optional<std::uint64_t> counter_delta(std::uint64_t before,
                                                         std::uint64_t after) noexcept;

// Events per second over `elapsed_ms` (> 0).
[[nodiscard]] inline double per_second(std::uint64_t delta, std::int64_t elapsed_ms) noexcept {
  return static_cast<double>(delta) * 1000.0 / static_cast<double>(elapsed_ms);
}

// Shell-style pattern with '*' (any run, also empty) and '?' (one byte); everything else is
// literal. "sd*" matches "sda", "loop?" matches "loop0".
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view name) noexcept;
[[nodiscard]] bool glob_match_any(std::span<const std::string> patterns,
                                  std::string_view name) noexcept;

// Protocol label values are cut at 256 bytes by the encoder; cutting here keeps the cut stable
// and the label readable.
inline constexpr std::size_t k_max_label_value_bytes = 256;
[[nodiscard]] std::string_view label_value(std::string_view text) noexcept;

// For validate(): a name used as a label value must be non-empty, at most 128 bytes and free of
// control characters. `field` names the config field in the error.
[[nodiscard]] Result<void> check_label_name(std::string_view field, std::string_view name);

} // namespace medic::agent::sample
