// SPDX-License-Identifier: Apache-2.0
// The diagnosis engine's configuration keys (`diagnosis.*`), registered into the
// coordinator's schema, and the rule set they name, loaded by finish_diagnose().
#pragma once

#include <chrono>
#include <string>

#include "coordinator/diagnose/rule_set.hpp"
#include "shared/config/schema.hpp"

namespace medic::coordinator::diagnose {

// The rules built into medic-coordinator: packaging/config/diagnosis.yaml, embedded at build
// time, so the coordinator diagnoses the seeds' scenarios with no file installed.
inline constexpr const char* k_builtin_rules = "builtin";

[[nodiscard]] std::string_view default_rules_text() noexcept; // generated (cmake/EmbedText.cmake)

struct DiagnoseConfig {
  // A rules file; "builtin": the default rules; '' = no rules: every incident needs review.
  std::string rules_file = k_builtin_rules;
  // What DiagnosisInput::recent_incidents and recent_recoveries cover (the engine counts).
  std::chrono::milliseconds recent_window = std::chrono::hours(1);

  // Loaded by finish_diagnose().
  RuleSet rules;
};

void add_diagnose_keys(medic::config::Schema& schema, DiagnoseConfig& config);

// Loads and compiles `rules_file` (so --check-config validates the rules too). Errors read
// "diagnosis.rules_file: FILE:LINE:COLUMN: rule 'id': what".
[[nodiscard]] Result<void> finish_diagnose(DiagnoseConfig& config);

} // namespace medic::coordinator::diagnose
