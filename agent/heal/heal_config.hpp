// SPDX-License-Identifier: Apache-2.0
// The fallback healing keys: local rules (detector rule -> catalog action, with parameters) that
// the agent runs by itself when cut off from the coordinator (or always, for rules marked so),
// and the budget every local remediation is held to (backoff, attempts per window, flapping).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::agent::heal {

struct HealRule {
  std::string id;
  std::string on_rule;                      // the detector rule whose signals it answers
  std::map<std::string, std::string> match; // only signals carrying these label values
  std::string action;                       // a catalog action
  // Parameter values; "{label:NAME}" inserts the firing signal's label (label_template.hpp).
  std::map<std::string, std::string> params;
  bool always = false;                       // act even while the coordinator is reachable
  std::optional<std::uint32_t> max_attempts; // overrides heal.max_attempts for this rule
};

struct BudgetSettings {
  std::chrono::milliseconds backoff_base{5000}; // wait after the first attempt
  std::chrono::milliseconds backoff_max{600'000};
  double jitter = 0.2;            // each wait is multiplied by a factor in [1 - jitter, 1 + jitter]
  std::uint32_t max_attempts = 5; // per target and action within `window`
  std::chrono::milliseconds window{3'600'000};
  std::chrono::milliseconds healthy_for{60'000};  // continuous health that resets the budget
  std::uint32_t flap_cycles = 5;                  // more fire->clear cycles than this ...
  std::chrono::milliseconds flap_window{600'000}; // ... within this is flapping
};

struct HealConfig {
  std::vector<HealRule> rules;
  std::chrono::milliseconds fallback_after{10'000};
  BudgetSettings budget;
  bool dry_run = false;
  // The `heal.jitter` key as given: the schema has no number keys, so it is read as text and
  // parsed into budget.jitter by add_heal_keys' check.
  std::string jitter_text = "0.2";
};

// Registers heal_rules and heal.* on `schema`; `config` must outlive the schema's loads.
// Parameter templates are checked while loading; whether the actions exist is not (the catalog
// is loaded after the keys): call check_heal_rules once both are known.
void add_heal_keys(config::Schema& schema, HealConfig& config);

// Whole-config checks: unique ids, every action in the catalog, backoff_base <= backoff_max.
// Errors name the rule: "heal_rules: rule 'restart-web': action 'restart' is not in the catalog".
[[nodiscard]] Result<void> check_heal_rules(
    const HealConfig& config, const std::function<bool(std::string_view action)>& action_exists);

} // namespace medic::agent::heal
