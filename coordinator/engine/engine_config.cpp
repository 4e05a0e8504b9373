// SPDX-License-Identifier: Apache-2.0
#include "coordinator/engine/engine_config.hpp"

namespace medic::coordinator::engine {

void add_engine_keys(medic::config::Schema& schema, EngineConfig& config) {
  correlate::add_correlation_keys(schema, config.correlation);
  plan::add_plan_keys(schema, config.plan);
  learn::add_learn_keys(schema, config.learn);
  escalate::add_escalation_keys(schema, config.escalation);
  diagnose::add_diagnose_keys(schema, config.diagnose);
  schema.add_duration("commands.deadline", config.command_deadline, std::chrono::seconds(1),
                      std::chrono::hours(1),
                      "A COMMAND the agent has not started by then is never run");
  schema.add_duration("commands.result_timeout", config.result_timeout, std::chrono::seconds(5),
                      std::chrono::hours(24),
                      "A COMMAND with no RESULT by then counts as a failed recovery");
  schema.add_duration("commands.settle", config.settle, std::chrono::milliseconds(0),
                      std::chrono::minutes(5),
                      "A new incident waits this long before medic plans its recovery, so that "
                      "a fleet incident or a failed dependency is seen first; 0 plans at once");
}

Result<void> finish_engine(EngineConfig& config) {
  if (auto ok = correlate::finish_correlation(config.correlation); !ok) {
    return ok;
  }
  if (auto ok = diagnose::finish_diagnose(config.diagnose); !ok) {
    return ok;
  }
  if (auto ok = plan::finish_plan(config.plan); !ok) {
    return ok;
  }
  if (auto ok = learn::finish_learn(config.learn); !ok) {
    return ok;
  }
  if (auto ok = escalate::finish_escalation(config.escalation); !ok) {
    return ok;
  }
  if (config.result_timeout <= config.command_deadline) {
    return fail(ErrorCode::config, "commands.result_timeout must be longer than commands.deadline");
  }
  return {};
}
} // namespace medic::coordinator::engine
