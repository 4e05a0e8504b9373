// SPDX-License-Identifier: Apache-2.0
// The engine's part of the coordinator's config: each engine's keys, plus where the diagnosis
// rules come from and how long a COMMAND may take (dry-run is plan.dry_run).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "coordinator/correlate/correlation_config.hpp"
#include "coordinator/diagnose/diagnose_config.hpp"
#include "coordinator/escalate/escalation_config.hpp"
#include "coordinator/learn/learn_config.hpp"
#include "coordinator/plan/plan_config.hpp"
#include "shared/config/schema.hpp"

namespace medic::coordinator::engine {

struct EngineConfig {
  correlate::CorrelationConfig correlation;
  plan::PlanConfig plan;
  learn::LearnConfig learn;
  escalate::EscalationConfig escalation;
  diagnose::DiagnoseConfig diagnose; // the rules, loaded by finish_engine
  // A COMMAND not started by then is never run (the agent refuses it); one not answered by
  // then plus its action's timeout counts as failed.
  std::chrono::milliseconds command_deadline{std::chrono::seconds(30)};
  std::chrono::milliseconds result_timeout{std::chrono::minutes(5)};
  // A new incident waits this long before its first plan, so that correlation sees a fleet or
  // a dependency first (Alertmanager's group_wait, in small); 0 plans at once.
  std::chrono::milliseconds settle{std::chrono::seconds(1)};
};

void add_engine_keys(medic::config::Schema& schema, EngineConfig& config);
[[nodiscard]] Result<void> finish_engine(EngineConfig& config);

} // namespace medic::coordinator::engine
