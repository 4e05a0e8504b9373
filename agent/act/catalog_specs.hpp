// SPDX-License-Identifier: Apache-2.0
// The checks Catalog::build applies to names, paths and each kind's spec (split from catalog.cpp
// to keep files small). Pure functions: any thread.
#pragma once

#include <chrono>
#include <string_view>

#include "agent/act/action.hpp"
#include "shared/error.hpp"

namespace medic::agent::act {

inline constexpr std::size_t k_max_param_length = 4096;
inline constexpr std::chrono::milliseconds k_max_timeout{86'400'000};

// Action names: a letter or digit, then letters, digits, '.', '_', '-'; at most 64 bytes.
[[nodiscard]] bool is_action_name(std::string_view name) noexcept;
// Parameter names: a letter or '_', then letters, digits, '_'; at most 64 bytes.
[[nodiscard]] bool is_param_name(std::string_view name) noexcept;

enum class RootAllowed : bool { no, yes };
// An absolute, normalised path: starts with '/', no empty, '.' or '..' component, no trailing
// '/', no control character; "/" itself only when `root` is yes. `field` names it in the error.
[[nodiscard]] Result<void> check_absolute(std::string_view field, std::string_view path,
                                          RootAllowed root);

// The action's kind spec, with every "{param}" it uses declared (and of a fitting type where it
// matters: a pid is an int of at least 2, a service operation an enum of the four operations).
// The exec sha256 is lowercased.
[[nodiscard]] Result<void> check_kind_spec(Action& action);

} // namespace medic::agent::act
