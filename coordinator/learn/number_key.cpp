// SPDX-License-Identifier: Apache-2.0
#include "coordinator/learn/number_key.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

namespace medic::coordinator::learn {

std::optional<double> parse_decimal(std::string_view text) noexcept {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string format_decimal(double value) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (parse_decimal(buffer) == value) {
      break;
    }
  }
  return buffer;
}

void add_decimal(medic::config::Schema& schema, std::string key, double& target, std::string& text,
                 double min, double max, std::string doc) {
  text = format_decimal(target);
  doc += " (a decimal from " + format_decimal(min) + " to " + format_decimal(max) + ")";
  schema.add_string(std::move(key), text, std::move(doc),
                    [&target, min, max](const std::string& value) -> Result<void> {
                      const auto number = parse_decimal(value);
                      if (!number) {
                        return fail(ErrorCode::config, "'" + value + "' is not a decimal number");
                      }
                      if (*number < min || *number > max) {
                        return fail(ErrorCode::config, "'" + value + "' is outside " +
                                                           format_decimal(min) + ".." +
                                                           format_decimal(max));
                      }
                      target = *number;
                      return {};
                    });
}

} // namespace medic::coordinator::learn
