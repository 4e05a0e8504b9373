// SPDX-License-Identifier: Apache-2.0
// Binding a request's parameters to an action's schema, and substituting them into the action's
// templates. Every value is attacker-controlled (a COMMAND from the network, a label of a log
// line that fired a rule): it is one line of valid UTF-8 without control characters, at most
// max_length bytes, never starting with '-' (except a negative int), and the type narrows it
// further. Values are only ever substituted as whole argv elements (or URL-escaped path
// segments), never parsed by a shell. Pure functions: any thread.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/act/action.hpp"
#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::agent::act {

// The pattern of a `string` parameter that declares none: a plain word that cannot hold a shell
// metacharacter, a space or a path, and cannot start like an option.
inline constexpr std::string_view k_default_string_pattern = "[A-Za-z0-9][A-Za-z0-9._@:+=,-]*";
// A request may name at most this many parameters (bounds the work of binding).
inline constexpr std::size_t k_max_given_params = 64;

// Validates a request's parameters against the action's schema: unknown names, missing required
// ones, duplicates, values over max_length, control characters/newlines/NUL, invalid UTF-8,
// enum/pattern/bounds/path rules. The error says which parameter and why, and quotes the value
// only escaped and cut (it is attacker-controlled). Defaults fill absent optional parameters.
// Uses ParamSpec::compiled_pattern when set (Catalog::build sets it); otherwise compiles the
// pattern for this call.
[[nodiscard]] Result<BoundParams> bind_params(const Action& action,
                                              std::span<const protocol::Label> given);

// One value against one parameter; the error reads "value \"...\" <why>" (no parameter name).
[[nodiscard]] Result<void> check_value(const ParamSpec& spec, std::string_view value);

// "{name}" elements replaced by whole values; any other element is literal (a "{" inside a
// longer element is literal too: substitution is into whole arguments only). An element naming
// a parameter without a value (optional, no default) is left out.
[[nodiscard]] std::vector<std::string> expand_argv(const std::vector<std::string>& templ,
                                                   const BoundParams& params);
// The same for one string: "{name}" becomes the value ("" when it has none), anything else is
// returned as it is.
[[nodiscard]] std::string expand_value(const std::string& templ, const BoundParams& params);
// An http path: every segment that is exactly "{name}" becomes the value percent-encoded (all
// but A-Z a-z 0-9 - _ ~; '.' too, so a value cannot be a "." or ".." segment), so a value cannot
// add segments, a query or a fragment.
[[nodiscard]] std::string expand_url_path(const std::string& templ, const BoundParams& params);

// The parameter an element refers to: "pid" for "{pid}", nothing for anything else.
[[nodiscard]] std::optional<std::string_view> param_reference(std::string_view element) noexcept;

// An attacker-controlled text for an error message: in double quotes, bytes outside printable
// ASCII (and '"', '\') as \xNN, at most 64 bytes of escaped text then "...".
[[nodiscard]] std::string quote_value(std::string_view value);

// The RE2 a string parameter's values must fully match (declared, else the default pattern);
// fails with RE2's reason when the pattern does not compile.
[[nodiscard]] Result<std::shared_ptr<const re2::RE2>> compile_pattern(const ParamSpec& spec);

} // namespace medic::agent::act
