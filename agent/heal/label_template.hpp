// SPDX-License-Identifier: Apache-2.0
// Fallback rule parameter values that name the firing signal's labels: "{label:unit}" is
// replaced by the value of the signal's label `unit`. "{{" and "}}" stand for literal braces;
// any other brace is an error, so a typo never reaches an action as literal text.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::agent::heal {

// Checks the syntax (balanced tokens, non-empty label names of [A-Za-z0-9_.-]). The error says
// at which byte and why; it does not quote the value (the caller names the rule and key).
[[nodiscard]] Result<void> check_label_template(std::string_view templ);

// Expands a template that passed check_label_template. Fails (invalid_argument) naming the
// label when the signal has no such label; a malformed template also fails, never crashes.
[[nodiscard]] Result<std::string> expand_label_template(std::string_view templ,
                                                        std::span<const protocol::Label> labels);

} // namespace medic::agent::heal
