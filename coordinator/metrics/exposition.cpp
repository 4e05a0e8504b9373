// SPDX-License-Identifier: Apache-2.0
#include "coordinator/metrics/exposition.hpp"

#include <charconv>
#include <cmath>

namespace medic::coordinator::metrics {

namespace {

bool is_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

} // namespace

bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !(is_letter(name.front()) || name.front() == ':')) {
    return false;
  }
  for (const char c : name) {
    if (!is_letter(c) && !is_digit(c) && c != ':') {
      return false;
    }
  }
  return true;
}

bool valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_letter(name.front()) || name.starts_with("__")) {
    return false;
  }
  for (const char c : name) {
    if (!is_letter(c) && !is_digit(c)) {
      return false;
    }
  }
  return true;
}

void append_help_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    default: out += c;
    }
  }
}

void append_label_value_escaped(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
    case '\\': out += "\\\\"; break;
    case '"': out += "\\\""; break;
    case '\n': out += "\\n"; break;
    default: out += c;
    }
  }
}

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  // Plain decimals where they stay short ("0.0005", not "5e-04", like Prometheus' own clients);
  // the shortest round-trip text in any notation beyond.
  char buffer[64];
  const double magnitude = std::fabs(value);
  const bool plain = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  const auto result =
      plain ? std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed)
            : std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void append_value(std::string& out, std::uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

} // namespace medic::coordinator::metrics
