// SPDX-License-Identifier: Apache-2.0
// Shell-style globs for diagnosis rules: '*' matches any run of characters (also none), '?'
// exactly one; everything else matches itself. No character classes, no escapes: rule ids,
// label values and action names do not need them. Matching never allocates.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace medic::coordinator::diagnose {

[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;

// True when any of the patterns matches.
[[nodiscard]] bool glob_any(std::span<const std::string> patterns, std::string_view text) noexcept;

// Finds `name` in a canonical label string "k=v,k2=v2" (as the store writes a sample's labels)
// and points `value` into it; false when absent. A value holding ',' cannot be told apart.
[[nodiscard]] bool canonical_label(std::string_view canonical, std::string_view name,
                                   std::string_view& value) noexcept;

} // namespace medic::coordinator::diagnose
