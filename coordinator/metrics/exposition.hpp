// SPDX-License-Identifier: Apache-2.0
// The pieces of Prometheus' text exposition format 0.0.4 the registry renders with: names as
// Prometheus accepts them, escaping of HELP text and label values, and sample values.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace medic::coordinator::metrics {

// The content type of a /metrics answer in this format.
inline constexpr const char* k_text_content_type = "text/plain; version=0.0.4; charset=utf-8";

// [a-zA-Z_:][a-zA-Z0-9_:]*
[[nodiscard]] bool valid_metric_name(std::string_view name) noexcept;
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus itself).
[[nodiscard]] bool valid_label_name(std::string_view name) noexcept;

// HELP text: backslash and line feed escaped (\\ and \n).
void append_help_escaped(std::string& out, std::string_view text);
// A label value: backslash, double quote and line feed escaped (\\, \" and \n).
void append_label_value_escaped(std::string& out, std::string_view value);
// Shortest text that reads back as the same double; NaN, +Inf and -Inf as Prometheus spells
// them; integral values without a fraction ("3", not "3.0").
void append_value(std::string& out, double value);
void append_value(std::string& out, std::uint64_t value);

} // namespace medic::coordinator::metrics
