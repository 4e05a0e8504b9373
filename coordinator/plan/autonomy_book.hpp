// SPDX-License-Identifier: Apache-2.0
// Earned autonomy: a (diagnosis, action) whose rule says 'approve' may run as 'auto' once its
// learned success's lower credible bound reached plan.promote_success over at least
// plan.promote_after verified attempts; it is demoted when the bound falls under
// plan.demote_success or after plan.demote_failures failures in a row, and must then earn
// plan.promote_after new attempts before another promotion. Bounded (plan.max_tracked).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/learn/learner.hpp"
#include "coordinator/learn/lru_map.hpp"
#include "coordinator/plan/plan_config.hpp"

namespace medic::coordinator::plan {

enum class AutonomyMove : std::uint8_t { promoted, demoted };

[[nodiscard]] std::string_view to_string(AutonomyMove move) noexcept;

// One promotion or demotion, for the audit trail.
struct AutonomyChange {
  std::string diagnosis; // learn::diagnosis_key
  std::string action;
  AutonomyMove move = AutonomyMove::promoted;
  double lower_bound = 0;
  std::uint64_t attempts = 0;
  std::uint64_t successes = 0;
  std::int64_t at_ms = 0;
  std::string sentence; // plain words: what changed and the figures behind it
};

// One reviewed (diagnosis, action), for persistence.
struct AutonomyRow {
  std::string diagnosis;
  std::string action;
  bool promoted = false;
  std::uint64_t attempts_at_demotion = 0;
  friend bool operator==(const AutonomyRow&, const AutonomyRow&) = default;
};

class AutonomyBook {
public:
  explicit AutonomyBook(const PlanConfig& config)
      : m_config(config), m_entries(config.max_tracked) {}

  // The planner saw this pair under a rule that says 'approve': review it from now on.
  void eligible(std::string_view diagnosis, std::string_view action);
  // Promoted and not failing now (checked against the learner, so a demotion due at the next
  // review already holds).
  [[nodiscard]] bool promoted(std::string_view diagnosis, std::string_view action,
                              const learn::Learner& learner) const;
  [[nodiscard]] std::vector<AutonomyChange> review(const learn::Learner& learner,
                                                   std::int64_t now_ms);
  [[nodiscard]] std::uint64_t evictions() const noexcept { return m_entries.evictions(); }
  // Least recently used first.
  [[nodiscard]] std::vector<AutonomyRow> rows() const;
  void restore(const std::vector<AutonomyRow>& rows);

private:
  struct Entry {
    std::string diagnosis;
    std::string action;
    bool promoted = false;
    std::uint64_t attempts_at_demotion = 0;
  };

  [[nodiscard]] bool should_demote(const learn::Posterior& posterior, double bound) const noexcept;
  [[nodiscard]] bool may_promote(const Entry& entry, const learn::Posterior& posterior,
                                 double bound) const noexcept;

  const PlanConfig& m_config;
  learn::LruMap<Entry> m_entries; // key: join_key(diagnosis, action)
};

} // namespace medic::coordinator::plan
