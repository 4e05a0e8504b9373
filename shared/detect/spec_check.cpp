// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/spec_check.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>

namespace medic::detect::spec_check {

std::string number(double value) {
  std::array<char, 32> text{};
  const auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{}) {
    return "?";
  }
  return std::string(text.data(), end);
}

std::string duration(std::chrono::milliseconds value) {
  struct Unit {
    std::int64_t ms;
    const char* suffix;
  };
  static constexpr std::array<Unit, 4> k_units{
      {{3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}}};
  const std::int64_t ms = value.count();
  for (const Unit& unit : k_units) {
    if (ms != 0 && ms % unit.ms == 0) {
      return std::to_string(ms / unit.ms) + unit.suffix;
    }
  }
  return std::to_string(ms) + "ms";
}

tl::unexpected<Error> invalid(std::string message) {
  return fail(ErrorCode::config, std::move(message));
}

Result<void> finite(std::string_view field, double value) {
  if (!std::isfinite(value)) {
    return invalid(std::string(field) + " must be a finite number, not " + number(value));
  }
  return {};
}

Result<void> positive(std::string_view field, std::chrono::milliseconds value) {
  if (value.count() <= 0) {
    return invalid(std::string(field) + " " + duration(value) + " must be positive");
  }
  return {};
}

Result<void> not_negative(std::string_view field, std::chrono::milliseconds value) {
  if (value.count() < 0) {
    return invalid(std::string(field) + " " + duration(value) + " must not be negative");
  }
  return {};
}

Result<void> in_range(std::string_view field, double value, double min, double max) {
  // Written so that NaN fails too.
  if (!(value >= min && value <= max)) {
    return invalid(std::string(field) + " " + number(value) + " must be between " + number(min) +
                   " and " + number(max));
  }
  return {};
}

Result<void> in_range(std::string_view field, std::size_t value, std::size_t min, std::size_t max) {
  if (value < min || value > max) {
    return invalid(std::string(field) + " " + std::to_string(value) + " must be between " +
                   std::to_string(min) + " and " + std::to_string(max));
  }
  return {};
}

} // namespace medic::detect::spec_check
