// SPDX-License-Identifier: Apache-2.0
// The acting part of the agent's configuration: the action catalog (agent/act), fallback heal
// rules and budget (agent/heal), diagnostic hooks, runner limits and dry-run.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/act/catalog.hpp"
#include "agent/act/catalog_config.hpp"
#include "agent/heal/heal_config.hpp"
#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::agent::config {

// "When rule X fires, run these diagnostic actions": their output is attached as evidence.
struct DiagnosticHook {
  std::string on_rule;
  std::vector<std::string> actions;          // catalog actions marked diagnostic
  std::map<std::string, std::string> params; // values may hold {label:NAME}
};

struct ActingConfig {
  act::ActionsConfig actions;
  heal::HealConfig heal;
  std::vector<DiagnosticHook> diagnostics;
  std::uint32_t max_concurrent = 4;
  std::uint32_t max_queued = 16;
  std::chrono::milliseconds kill_grace{2000};
  bool dry_run = false; // decide and record everything, execute nothing
  // Built by finish_acting from `actions` (shared: the agent keeps it while it runs).
  std::shared_ptr<const act::Catalog> catalog;
};

void add_acting_keys(medic::config::Schema& schema, ActingConfig& config);
// Builds the catalog and checks heal rules and diagnostic hooks against it.
[[nodiscard]] Result<void> finish_acting(ActingConfig& config);

} // namespace medic::agent::config
