// SPDX-License-Identifier: Apache-2.0
// A backtest over the store: reads a past period's signals (oldest first, at most `limit`),
// log events, action outcomes and agents, replays them through a candidate rule set (replay.hpp)
// and adds the live coordinator's own incident counts for the period. Reads only: nothing is
// written, sent or audited. Runs on the thread that owns `store` (the storage worker); the
// replay's CPU time is spent there too (docs/backtesting.md has figures).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "coordinator/backtest/replay.hpp"
#include "coordinator/storage/store.hpp"

namespace medic::coordinator::backtest {

inline constexpr std::size_t k_default_limit = 100'000;
inline constexpr std::size_t k_max_limit = 100'000; // one store read (the backends' bound)

struct BacktestRequest {
  std::int64_t since_ms = 0;
  std::int64_t until_ms = std::numeric_limits<std::int64_t>::max(); // inclusive
  std::size_t limit = k_default_limit;                              // signals replayed
  // Catalogs the live coordinator knows (agent id -> its HELLO's actions); an agent not here is
  // assumed to have every action its rules propose (ReplayOptions::assumed_risk).
  std::unordered_map<std::string, std::vector<protocol::ActionSchema>> catalogs;
  ReplayOptions options; // `limit` is filled in from the request
};

// Fails on a store error, or (ErrorCode::invalid_argument) on since > until or a limit of 0
// or above k_max_limit.
[[nodiscard]] Result<ReplayReport> run_backtest(storage::Store& store,
                                                const BacktestRequest& request,
                                                const engine::EngineConfig& config,
                                                const diagnose::RuleSet& rules);

} // namespace medic::coordinator::backtest
