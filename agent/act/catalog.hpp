// SPDX-License-Identifier: Apache-2.0
// The agent's local action catalog: the only things a COMMAND or a fallback rule may run. Built
// once at start-up (every check happens here, so the runner can trust what it gets) and then
// read-only: find/actions/schemas may be called from any thread.
#pragma once

#include <string_view>
#include <vector>

#include "agent/act/action.hpp"
#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::agent::act {

inline constexpr std::size_t k_max_actions = 1024;
inline constexpr std::size_t k_max_params = 32;

// Checks one action on its own: its name, bounds, parameters (names, types, defaults, patterns
// compiled into ParamSpec::compiled_pattern), its kind spec (absolute paths, exec argv[0]
// absolute and literal, http host loopback and port set, sha256 64 hex, signal selectors ...) and
// that every "{param}" of the spec is declared. Cross-references to other actions are left to
// Catalog::build. The error does not name the action (callers add where it is).
[[nodiscard]] Result<void> prepare_action(Action& action);

class Catalog {
public:
  Catalog() = default;

  // Checks the whole catalog: unique names; rollback / temporary.undo_action name existing
  // actions (other than the action itself) whose required parameters the action declares too
  // (they run with the same parameters); every action as prepare_action does.
  // Errors name the action ("actions[3] 'restart-web': ...").
  [[nodiscard]] static Result<Catalog> build(std::vector<Action> actions);

  [[nodiscard]] const Action* find(std::string_view name) const noexcept;
  [[nodiscard]] const std::vector<Action>& actions() const noexcept { return m_actions; }
  // For HELLO: name, risk and parameters (a string parameter shows its effective pattern, the
  // default one when none is declared; a parameter with a default is not required).
  [[nodiscard]] std::vector<protocol::ActionSchema> schemas() const;

private:
  explicit Catalog(std::vector<Action> actions) : m_actions(std::move(actions)) {}

  std::vector<Action> m_actions;
};

} // namespace medic::agent::act
