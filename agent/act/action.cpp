// SPDX-License-Identifier: Apache-2.0
#include "agent/act/action.hpp"

#include <array>

namespace medic::agent::act {

namespace {

constexpr std::array<std::string_view, 6> k_kinds = {"exec",  "service", "signal",
                                                     "clean", "http",    "rollback"};
constexpr std::array<std::string_view, 4> k_risks = {"low", "medium", "high", "critical"};
constexpr std::array<std::string_view, 5> k_types = {"string", "int", "enum", "path", "duration"};

template <class Enum, std::size_t N>
std::optional<Enum> parse_word(const std::array<std::string_view, N>& words,
                               std::string_view text) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (words[i] == text) {
      return static_cast<Enum>(i);
    }
  }
  return std::nullopt;
}

template <std::size_t N>
std::string_view word(const std::array<std::string_view, N>& words, std::size_t index) noexcept {
  return index < N ? words[index] : std::string_view("unknown");
}

} // namespace

std::string_view to_string(ActionKind kind) noexcept {
  return word(k_kinds, static_cast<std::size_t>(kind));
}

std::string_view to_string(Risk risk) noexcept {
  return word(k_risks, static_cast<std::size_t>(risk));
}

std::string_view to_string(ParamType type) noexcept {
  return word(k_types, static_cast<std::size_t>(type));
}

std::optional<ActionKind> parse_action_kind(std::string_view text) noexcept {
  return parse_word<ActionKind>(k_kinds, text);
}

std::optional<Risk> parse_risk(std::string_view text) noexcept {
  return parse_word<Risk>(k_risks, text);
}

std::optional<ParamType> parse_param_type(std::string_view text) noexcept {
  return parse_word<ParamType>(k_types, text);
}

} // namespace medic::agent::act
