// SPDX-License-Identifier: Apache-2.0
#include "coordinator/plan/autonomy_book.hpp"

#include <cstdio>

namespace medic::coordinator::plan {

namespace {

std::string figures(const learn::Posterior& posterior, double bound) {
  char buffer[160];
  std::snprintf(buffer, sizeof buffer,
                "%llu of %llu verified attempts succeeded, lower credible bound %.3f",
                static_cast<unsigned long long>(posterior.successes),
                static_cast<unsigned long long>(posterior.attempts), bound);
  return buffer;
}

AutonomyChange change(std::string_view diagnosis, std::string_view action, AutonomyMove move,
                      const learn::Posterior& posterior, double bound, std::int64_t now_ms) {
  AutonomyChange c;
  c.diagnosis = diagnosis;
  c.action = action;
  c.move = move;
  c.lower_bound = bound;
  c.attempts = posterior.attempts;
  c.successes = posterior.successes;
  c.at_ms = now_ms;
  return c;
}

} // namespace

std::string_view to_string(AutonomyMove move) noexcept {
  return move == AutonomyMove::promoted ? "promoted" : "demoted";
}

void AutonomyBook::eligible(std::string_view diagnosis, std::string_view action) {
  m_entries.get_or_insert(learn::join_key(diagnosis, action), [&] {
    return Entry{std::string(diagnosis), std::string(action), false, 0};
  });
}

bool AutonomyBook::promoted(std::string_view diagnosis, std::string_view action,
                            const learn::Learner& learner) const {
  const Entry* entry = m_entries.peek(learn::join_key(diagnosis, action));
  if (!m_config.earned_autonomy || entry == nullptr || !entry->promoted) {
    return false;
  }
  const learn::Posterior* posterior = learner.find_posterior(diagnosis, action);
  return posterior != nullptr && !should_demote(*posterior, learner.lower_bound(*posterior));
}

bool AutonomyBook::should_demote(const learn::Posterior& posterior, double bound) const noexcept {
  return bound < m_config.demote_success ||
         posterior.consecutive_failures >= m_config.demote_failures;
}

bool AutonomyBook::may_promote(const Entry& entry, const learn::Posterior& posterior,
                               double bound) const noexcept {
  return posterior.attempts >= entry.attempts_at_demotion + m_config.promote_after &&
         bound >= m_config.promote_success &&
         posterior.consecutive_failures < m_config.demote_failures;
}

std::vector<AutonomyRow> AutonomyBook::rows() const {
  std::vector<AutonomyRow> rows;
  m_entries.for_each_oldest_first([&rows](const std::string&, const Entry& entry) {
    rows.push_back(
        AutonomyRow{entry.diagnosis, entry.action, entry.promoted, entry.attempts_at_demotion});
  });
  return rows;
}

void AutonomyBook::restore(const std::vector<AutonomyRow>& rows) {
  m_entries.clear();
  for (const AutonomyRow& row : rows) {
    m_entries.get_or_insert(learn::join_key(row.diagnosis, row.action), [] { return Entry{}; }) =
        Entry{row.diagnosis, row.action, row.promoted, row.attempts_at_demotion};
  }
}

std::vector<AutonomyChange> AutonomyBook::review(const learn::Learner& learner,
                                                 std::int64_t now_ms) {
  std::vector<AutonomyChange> changes;
  if (!m_config.earned_autonomy) {
    return changes;
  }
  m_entries.for_each_oldest_first([&](const std::string&, Entry& entry) {
    const learn::Posterior* posterior = learner.find_posterior(entry.diagnosis, entry.action);
    if (posterior == nullptr) {
      return;
    }
    const double bound = learner.lower_bound(*posterior);
    if (entry.promoted && should_demote(*posterior, bound)) {
      entry.promoted = false;
      entry.attempts_at_demotion = posterior->attempts;
      auto c =
          change(entry.diagnosis, entry.action, AutonomyMove::demoted, *posterior, bound, now_ms);
      c.sentence = "'" + entry.action + "' for '" + entry.diagnosis +
                   "' goes back to waiting for approval: " + figures(*posterior, bound) + ", " +
                   std::to_string(posterior->consecutive_failures) + " failure(s) in a row";
      changes.push_back(std::move(c));
    } else if (!entry.promoted && may_promote(entry, *posterior, bound)) {
      entry.promoted = true;
      auto c =
          change(entry.diagnosis, entry.action, AutonomyMove::promoted, *posterior, bound, now_ms);
      c.sentence = "'" + entry.action + "' for '" + entry.diagnosis +
                   "' now runs without approval (earned autonomy): " + figures(*posterior, bound);
      changes.push_back(std::move(c));
    }
  });
  return changes;
}

} // namespace medic::coordinator::plan
