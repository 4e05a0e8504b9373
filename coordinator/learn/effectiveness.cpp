// SPDX-License-Identifier: Apache-2.0
#include "coordinator/learn/effectiveness.hpp"

#include <algorithm>

namespace medic::coordinator::learn {

namespace {

constexpr std::array<std::string_view, 5> k_risk_names{"low", "medium", "high", "critical",
                                                       "unknown"};

std::size_t risk_index(std::string_view risk) noexcept {
  for (std::size_t i = 0; i + 1 < k_risk_names.size(); ++i) {
    if (k_risk_names[i] == risk) {
      return i;
    }
  }
  return k_risk_names.size() - 1;
}

double ratio(double part, double whole) noexcept {
  return whole > 0 ? part / whole : 0.0;
}

double ratio(std::uint64_t part, std::uint64_t whole) noexcept {
  return ratio(static_cast<double>(part), static_cast<double>(whole));
}

} // namespace

double RateRow::rate() const noexcept {
  return ratio(successes, attempts);
}

Effectiveness::Effectiveness(std::size_t max_actions) : m_actions(max_actions) {
  for (std::size_t i = 0; i < k_risk_rows; ++i) {
    m_risks[i].name = k_risk_names[i];
  }
}

void Effectiveness::incident_opened(std::int64_t first_signal_ms, std::int64_t detected_ms) {
  ++m_state.opened;
  ++m_state.detect_samples;
  m_state.detect_ms_total +=
      static_cast<double>(std::max<std::int64_t>(0, detected_ms - first_signal_ms));
}

void Effectiveness::incident_resolved(std::int64_t opened_ms, std::int64_t resolved_ms,
                                      Resolution how) {
  ++m_state.resolved;
  if (how == Resolution::automatic) {
    ++m_state.auto_recovered;
  }
  ++m_state.recover_samples;
  m_state.recover_ms_total +=
      static_cast<double>(std::max<std::int64_t>(0, resolved_ms - opened_ms));
}

void Effectiveness::recovery(std::string_view action, std::string_view risk, bool success) {
  const std::string name(action);
  RateRow& row = m_actions.get_or_insert(name, [&name] { return RateRow{name, 0, 0}; });
  RateRow& by_risk = m_risks[risk_index(risk)];
  ++row.attempts;
  ++by_risk.attempts;
  if (success) {
    ++row.successes;
    ++by_risk.successes;
  }
}

Figures Effectiveness::figures() const {
  Figures f;
  f.opened = m_state.opened;
  f.resolved = m_state.resolved;
  f.auto_recovered = m_state.auto_recovered;
  f.escalated = m_state.escalated;
  f.marked_false = m_state.marked_false;
  f.mttd_ms = ratio(m_state.detect_ms_total, static_cast<double>(m_state.detect_samples));
  f.mttr_ms = ratio(m_state.recover_ms_total, static_cast<double>(m_state.recover_samples));
  f.automated_recovery_rate = ratio(m_state.auto_recovered, m_state.resolved);
  f.escalation_rate = ratio(m_state.escalated, m_state.opened);
  f.false_positive_rate = ratio(m_state.marked_false, m_state.opened);
  std::uint64_t attempts = 0;
  std::uint64_t successes = 0;
  m_actions.for_each_oldest_first([&](const std::string&, const RateRow& row) {
    f.per_action.push_back(row);
    attempts += row.attempts;
    successes += row.successes;
  });
  std::sort(f.per_action.begin(), f.per_action.end(),
            [](const RateRow& a, const RateRow& b) { return a.name < b.name; });
  // Over the risk rows: they are never evicted, unlike per-action rows.
  attempts = 0;
  successes = 0;
  for (const RateRow& row : m_risks) {
    attempts += row.attempts;
    successes += row.successes;
    if (row.attempts > 0) {
      f.per_risk.push_back(row);
    }
  }
  f.recovery_success_rate = ratio(successes, attempts);
  return f;
}

EffectivenessState Effectiveness::snapshot() const {
  EffectivenessState state = m_state;
  m_actions.for_each_oldest_first(
      [&state](const std::string&, const RateRow& row) { state.per_action.push_back(row); });
  state.per_risk.assign(m_risks.begin(), m_risks.end());
  return state;
}

void Effectiveness::restore(const EffectivenessState& state) {
  m_state = state;
  m_state.per_action.clear();
  m_state.per_risk.clear();
  m_actions.clear();
  for (const RateRow& row : state.per_action) {
    m_actions.get_or_insert(row.name, [&row] { return row; }) = row;
  }
  for (std::size_t i = 0; i < k_risk_rows; ++i) {
    m_risks[i] = RateRow{std::string(k_risk_names[i]), 0, 0};
  }
  for (const RateRow& row : state.per_risk) {
    RateRow& target = m_risks[risk_index(row.name)];
    target.attempts += row.attempts;
    target.successes += row.successes;
  }
}

} // namespace medic::coordinator::learn
