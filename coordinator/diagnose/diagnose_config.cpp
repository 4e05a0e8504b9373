// SPDX-License-Identifier: Apache-2.0
#include "coordinator/diagnose/diagnose_config.hpp"

namespace medic::coordinator::diagnose {

void add_diagnose_keys(medic::config::Schema& schema, DiagnoseConfig& config) {
  schema.add_string("diagnosis.rules_file", config.rules_file,
                    "The diagnosis rules file (docs/diagnosis.md), read at start; 'builtin': the "
                    "default rules built into medic-coordinator (packaging/config/diagnosis.yaml); "
                    "empty: no rules, so every incident is diagnosed needs-review");
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
  auto rules = config.rules_file == k_builtin_rules
                   ? load_rules_text(default_rules_text(), "built-in diagnosis rules")
                   : load_rules_file(config.rules_file);
  if (!rules) {
    return fail(std::move(rules).error().context("diagnosis.rules_file"));
  }
  config.rules = std::move(*rules);
  return {};
}

} // namespace medic::coordinator::diagnose
