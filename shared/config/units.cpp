// SPDX-License-Identifier: Apache-2.0
#include "shared/config/units.hpp"

#include <charconv>
#include <limits>

namespace medic::config {

namespace {

struct Unit {
  std::string_view suffix;
  std::uint64_t factor;
};

// Splits "123abc" into 123 and "abc"; fails on no digits or overflow.
Result<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text,
                                                                std::string_view what) {
  std::uint64_t number = 0;
  const auto* begin = text.data();
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, number);
  if (ec == std::errc::result_out_of_range) {
    return fail(ErrorCode::config, std::string(what) + " '" + std::string(text) + "' is too large");
  }
  if (ec != std::errc() || ptr == begin) {
    return fail(ErrorCode::config,
                "expected a " + std::string(what) + ", got '" + std::string(text) + "'");
  }
  return std::pair{number, std::string_view(ptr, static_cast<std::size_t>(end - ptr))};
}

Result<std::uint64_t> scale(std::string_view text, std::string_view what, const Unit* units,
                            std::size_t unit_count, std::string_view expected) {
  auto split = split_number(text, what);
  if (!split) {
    return fail(std::move(split).error());
  }
  const auto [number, suffix] = *split;
  for (std::size_t i = 0; i < unit_count; ++i) {
    if (suffix == units[i].suffix) {
      if (number > std::numeric_limits<std::uint64_t>::max() / units[i].factor) {
        return fail(ErrorCode::config,
                    std::string(what) + " '" + std::string(text) + "' is too large");
      }
      return number * units[i].factor;
    }
  }
  return fail(ErrorCode::config, "expected a " + std::string(what) + " like " +
                                     std::string(expected) + ", got '" + std::string(text) + "'");
}

} // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  static constexpr Unit k_units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  auto ms = scale(text, "duration", k_units, std::size(k_units), "500ms, 2s, 5m, 1h or 7d");
  if (!ms) {
    return fail(std::move(ms).error());
  }
  if (*ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2)) {
    return fail(ErrorCode::config, "duration '" + std::string(text) + "' is too large");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
}

std::string format_duration(std::chrono::milliseconds value) {
  const auto ms = value.count();
  if (ms != 0 && ms % 3'600'000 == 0) {
    return std::to_string(ms / 3'600'000) + "h";
  }
  if (ms != 0 && ms % 60'000 == 0) {
    return std::to_string(ms / 60'000) + "m";
  }
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

Result<std::uint64_t> parse_size(std::string_view text) {
  static constexpr Unit k_units[] = {{"", 1},
                                     {"B", 1},
                                     {"KB", 1000},
                                     {"MB", 1000 * 1000},
                                     {"GB", 1000ULL * 1000 * 1000},
                                     {"KiB", 1 << 10},
                                     {"MiB", 1 << 20},
                                     {"GiB", 1ULL << 30}};
  return scale(text, "size", k_units, std::size(k_units), "512KiB, 64MiB or 1GB");
}

} // namespace medic::config
