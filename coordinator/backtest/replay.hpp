// SPDX-License-Identifier: Apache-2.0
// The backtest's replay: stored signals of a past period go, oldest first and in simulated
// time (each signal's own time_ms), through a fresh Correlator, a candidate rule set, a fresh
// Learner and Planner, and the escalation rules, exactly as the live engine drives them — but
// nothing is sent, stored or audited. A dispatched recovery takes the outcome the store has for
// that agent and action near that time, or is assumed to succeed after a delay.
// Pure: values in, a report out; no I/O, no threads. Any thread may call replay() (the admin
// command runs it on the storage worker); the rule set is only read.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/backtest/replay_report.hpp"
#include "coordinator/diagnose/rule_set.hpp"
#include "coordinator/engine/engine_config.hpp"
#include "coordinator/learn/learner.hpp"
#include "coordinator/storage/store.hpp"
#include "protocol/message.hpp"

namespace medic::coordinator::backtest {

struct ReplayAgent {
  std::string id;
  std::string host;
  std::vector<protocol::Label> labels;
  // From the agent's HELLO when known; nullopt: every candidate the rules propose is assumed
  // to be in the catalog, at the rule's risk (ReplayOptions::assumed_risk when it gives none).
  std::optional<std::vector<protocol::ActionSchema>> catalog;
};

struct ReplayInput {
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;
  std::vector<storage::SignalRecord> signals;      // oldest first
  std::vector<storage::LogEventRecord> log_events; // oldest first (diagnosis: rules, templates)
  std::vector<storage::ResultRecord> results;      // oldest first (what really happened)
  std::vector<ReplayAgent> agents;
  bool cut = false; // the period held more signals than were read
};

struct ReplayOptions {
  // A recovery with no stored outcome is assumed to succeed this long after it was sent.
  std::chrono::milliseconds assumed_success_delay{std::chrono::seconds(5)};
  // A stored outcome counts for a simulated recovery when the same agent started the same
  // action within this long after it.
  std::chrono::milliseconds result_window{std::chrono::minutes(2)};
  std::string assumed_risk = "low";   // for an action of an agent whose catalog is unknown
  std::size_t max_incidents = 10'000; // listed in the report (all are counted)
  std::size_t max_decisions = 32;     // per incident
  std::size_t limit = 100'000;        // what the caller asked for (reported)
  // The live learned state, read-only (a copy); nullptr: the rules' priors only.
  const learn::LearnerSnapshot* learned = nullptr;
};

// `config`: the coordinator's (correlation, plan, learn, escalation, settle); its rules are
// not used, `rules` are. plan.dry_run is ignored: the replay never sends anything.
[[nodiscard]] ReplayReport replay(const ReplayInput& input, const engine::EngineConfig& config,
                                  const diagnose::RuleSet& rules, const ReplayOptions& options);

} // namespace medic::coordinator::backtest
