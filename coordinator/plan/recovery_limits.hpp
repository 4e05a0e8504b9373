// SPDX-License-Identifier: Apache-2.0
// The limits a recovery must pass before it starts: one at a time per incident, global and
// per-host concurrency, starts per action per 24 hours, and a cooldown per (host, target,
// action) that doubles (plan.cooldown_factor) with each repeat up to plan.cooldown_max and
// resets after a success that held for plan.cooldown_reset. Every map is bounded. Pure
// bookkeeping: the planner calls it from the engine's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/correlate/incident.hpp"
#include "coordinator/learn/lru_map.hpp"
#include "coordinator/plan/plan_config.hpp"

namespace medic::coordinator::plan {

// One recovery: what the engine reports to started()/finished().
struct RecoveryKey {
  correlate::IncidentId incident = 0;
  std::string host;
  std::string action;
  std::string target; // the incident's fingerprint (what the action is meant to heal)
  friend bool operator==(const RecoveryKey&, const RecoveryKey&) = default;
};

// Why a recovery may not start now, and when it may (nullopt: when a running one finishes).
struct Hold {
  std::string reason;
  std::optional<std::int64_t> retry_at_ms;
};

struct LimitCounters {
  std::uint64_t cooldown_evictions = 0;
  std::uint64_t action_evictions = 0;
  std::uint64_t stale_running = 0;    // running entries dropped as never finished
  std::uint64_t unknown_finishes = 0; // finished() for a recovery not running
};

// The backoff state of one (host, target, action), for persistence.
struct CooldownRow {
  std::string host;
  std::string target;
  std::string action;
  std::uint32_t level = 0;
  std::int64_t until_ms = 0;
  std::int64_t last_success_ms = -1; // -1: the last run did not succeed
  friend bool operator==(const CooldownRow&, const CooldownRow&) = default;
};

// The recent starts of one action (plan.max_per_action_per_day), for persistence.
struct ActionStartsRow {
  std::string action;
  std::vector<std::int64_t> starts_ms; // oldest first
  friend bool operator==(const ActionStartsRow&, const ActionStartsRow&) = default;
};

class RecoveryLimits {
public:
  // A running recovery not finished after this is dropped (the engine lost its result).
  static constexpr std::int64_t k_running_stale_ms = std::int64_t{6} * 3'600'000;
  static constexpr std::size_t k_max_running = 4'096;

  explicit RecoveryLimits(const PlanConfig& config);

  [[nodiscard]] std::optional<Hold> check(const RecoveryKey& key, std::int64_t now_ms);
  void started(const RecoveryKey& key, std::int64_t now_ms);
  void finished(const RecoveryKey& key, bool success, std::int64_t now_ms);

  // The cooldown after the n-th run in a row (n >= 1): cooldown * factor^(n-1), capped.
  [[nodiscard]] std::int64_t cooldown_ms(std::uint32_t level) const noexcept;
  // nullopt when no cooldown is recorded for the key.
  [[nodiscard]] std::optional<std::uint32_t> backoff_level(const RecoveryKey& key) const;
  [[nodiscard]] std::size_t running() const noexcept { return m_running.size(); }
  [[nodiscard]] LimitCounters counters() const noexcept;

  // Least recently used first. Running recoveries are not part of it: after a restart the
  // engine knows which COMMANDs are still out and reports them with started().
  [[nodiscard]] std::vector<CooldownRow> cooldown_rows() const;
  [[nodiscard]] std::vector<ActionStartsRow> start_rows() const;
  void restore(const std::vector<CooldownRow>& cooldowns,
               const std::vector<ActionStartsRow>& starts);

private:
  struct Running {
    RecoveryKey key;
    std::int64_t started_ms = 0;
  };
  struct Cooldown {
    std::uint32_t level = 0; // runs in a row on this key without a held success
    std::int64_t until_ms = 0;
    std::int64_t last_success_ms = -1;
  };

  [[nodiscard]] std::optional<Hold> check_cooldown(const RecoveryKey& key,
                                                   std::int64_t now_ms) const;
  [[nodiscard]] std::optional<Hold> check_running(const RecoveryKey& key) const;
  [[nodiscard]] std::optional<Hold> check_daily(const RecoveryKey& key, std::int64_t now_ms);
  void drop_stale(std::int64_t now_ms);

  const PlanConfig& m_config;
  std::vector<Running> m_running;
  learn::LruMap<Cooldown> m_cooldowns;              // key: host, target, action
  learn::LruMap<std::deque<std::int64_t>> m_starts; // key: action; start times in 24 h
  std::uint64_t m_stale_running = 0;
  std::uint64_t m_unknown_finishes = 0;
};

// "2026-11-23T10:00:00Z", for reasons that say when a limit frees up.
[[nodiscard]] std::string format_utc(std::int64_t unix_ms);

} // namespace medic::coordinator::plan
