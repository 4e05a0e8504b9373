// SPDX-License-Identifier: Apache-2.0
#include "coordinator/diagnose/diagnose_config.hpp"

namespace medic::coordinator::diagnose {

void add_diagnose_keys(medic::config::Schema& schema, DiagnoseConfig& config) {
  schema.add_string("diagnosis.rules_file", config.rules_file,
                    "The diagnosis rules (docs/diagnosis.md), read at start; empty runs without "
                    "rules, so every incident is diagnosed needs-review");
  schema.add_duration("diagnosis.recent_window", config.recent_window, std::chrono::minutes(1),
                      std::chrono::hours(24 * 7),
                      "How far back a host's incidents and recoveries count for the "
                      "recent_incidents and recent_recovery conditions");
}

Result<void> finish_diagnose(DiagnoseConfig& config) {
  if (config.rules_file.empty()) {
    config.rules = RuleSet();
    return {};
  }
  auto rules = load_rules_file(config.rules_file);
  if (!rules) {
    return fail(std::move(rules).error().context("diagnosis.rules_file"));
  }
  config.rules = std::move(*rules);
  return {};
}

} // namespace medic::coordinator::diagnose
