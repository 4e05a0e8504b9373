// SPDX-License-Identifier: Apache-2.0
// The operator's figures: mean time to detect and to recover, automated recovery rate, recovery
// success per action and per risk, escalation and false-positive rates. Fed by explicit calls
// from the engine as things happen; counts only, so the state is small and bounded.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/learn/lru_map.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::learn {

// How an incident came to be resolved.
enum class Resolution : std::uint8_t {
  automatic, // after an action medic ran (verified) and nothing else
  other,     // by itself, by an operator, or after an escalation
};

struct RateRow {
  std::string name; // an action, or a risk ("low".."critical", "unknown")
  std::uint64_t attempts = 0;
  std::uint64_t successes = 0;
  [[nodiscard]] double rate() const noexcept; // 0 when no attempt
  friend bool operator==(const RateRow&, const RateRow&) = default;
};

// The counters as plain values, for storage (snapshot/restore) and for the figures.
struct EffectivenessState {
  std::uint64_t opened = 0;
  std::uint64_t resolved = 0;
  std::uint64_t auto_recovered = 0;
  std::uint64_t escalated = 0;
  std::uint64_t marked_false = 0;
  std::uint64_t detect_samples = 0;
  double detect_ms_total = 0;
  std::uint64_t recover_samples = 0;
  double recover_ms_total = 0;
  std::vector<RateRow> per_action; // least recently used first
  std::vector<RateRow> per_risk;   // low, medium, high, critical, unknown
  friend bool operator==(const EffectivenessState&, const EffectivenessState&) = default;
};

struct Figures {
  std::uint64_t opened = 0;
  std::uint64_t resolved = 0;
  std::uint64_t auto_recovered = 0;
  std::uint64_t escalated = 0;
  std::uint64_t marked_false = 0;
  double mttd_ms = 0;                 // first signal -> incident opened/diagnosed, mean
  double mttr_ms = 0;                 // incident opened -> resolved, mean
  double automated_recovery_rate = 0; // auto_recovered / resolved
  double escalation_rate = 0;         // escalated / opened
  double false_positive_rate = 0;     // marked_false / opened
  double recovery_success_rate = 0;   // all actions
  std::vector<RateRow> per_action;    // by name
  std::vector<RateRow> per_risk;      // low .. critical, unknown; rows without attempts left out
};

class Effectiveness {
public:
  explicit Effectiveness(std::size_t max_actions = 1024);

  // An incident opened (or was diagnosed) at `detected_ms`; its first signal fired at
  // `first_signal_ms`. The difference, never negative, is one detection time.
  void incident_opened(std::int64_t first_signal_ms, std::int64_t detected_ms);
  void incident_resolved(std::int64_t opened_ms, std::int64_t resolved_ms, Resolution how);
  // Call once per incident escalated, and once per incident an operator marks false.
  void escalated() noexcept { ++m_state.escalated; }
  void marked_false() noexcept { ++m_state.marked_false; }
  // One verified outcome of an action with its resolved risk.
  void recovery(std::string_view action, std::string_view risk, bool success);

  [[nodiscard]] Figures figures() const;
  [[nodiscard]] EffectivenessState snapshot() const;
  // Replaces everything; per-action rows beyond the capacity keep the last ones given.
  void restore(const EffectivenessState& state);
  [[nodiscard]] std::uint64_t evictions() const noexcept { return m_actions.evictions(); }

private:
  static constexpr std::size_t k_risk_rows = 5;

  EffectivenessState m_state; // per_action / per_risk unused here: kept below
  LruMap<RateRow> m_actions;
  std::array<RateRow, k_risk_rows> m_risks;
};

} // namespace medic::coordinator::learn
