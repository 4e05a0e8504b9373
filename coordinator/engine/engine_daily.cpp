// SPDX-License-Identifier: Apache-2.0
// Engine: the daily self-healing figures (daily_healing_metrics). The effectiveness counters
// only grow; a day's figures are how much they grew since the UTC day began. The row of the
// current day is rewritten with the learned state (once a minute), and a day's row is written
// one last time when the next day begins.
#include <ctime>

#include <spdlog/spdlog.h>

#include "coordinator/engine/engine.hpp"

namespace medic::coordinator::engine {

namespace {

std::string utc_day(std::int64_t now_ms) {
  const std::time_t seconds = static_cast<std::time_t>(now_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &parts);
  return text;
}

std::pair<std::int64_t, std::int64_t> action_totals(const learn::EffectivenessState& state) {
  std::int64_t attempts = 0;
  std::int64_t successes = 0;
  for (const auto& row : state.per_risk) { // every action has a risk row, "unknown" included
    attempts += static_cast<std::int64_t>(row.attempts);
    successes += static_cast<std::int64_t>(row.successes);
  }
  return {attempts, successes};
}

// Counters can go back only when the learned state was replaced (restored from an older
// document): a negative growth then counts as none.
std::int64_t grew(std::uint64_t now, std::uint64_t base) {
  return now >= base ? static_cast<std::int64_t>(now - base) : 0;
}

double mean_growth(double total_now, double total_base, std::uint64_t count_now,
                   std::uint64_t count_base) {
  const std::int64_t count = grew(count_now, count_base);
  return count > 0 && total_now >= total_base ? (total_now - total_base) / static_cast<double>(count)
                                              : 0.0;
}

storage::DailyHealingMetrics day_figures(const std::string& day,
                                         const learn::EffectivenessState& base,
                                         const learn::EffectivenessState& now,
                                         std::int64_t now_ms) {
  storage::DailyHealingMetrics m;
  m.day = day;
  m.opened = grew(now.opened, base.opened);
  m.resolved = grew(now.resolved, base.resolved);
  m.auto_recovered = grew(now.auto_recovered, base.auto_recovered);
  m.escalated = grew(now.escalated, base.escalated);
  m.false_positives = grew(now.marked_false, base.marked_false);
  const auto [attempts_now, successes_now] = action_totals(now);
  const auto [attempts_base, successes_base] = action_totals(base);
  m.actions = std::max<std::int64_t>(0, attempts_now - attempts_base);
  m.actions_succeeded = std::max<std::int64_t>(0, successes_now - successes_base);
  m.mttd_ms = mean_growth(now.detect_ms_total, base.detect_ms_total, now.detect_samples,
                          base.detect_samples);
  m.mttr_ms = mean_growth(now.recover_ms_total, base.recover_ms_total, now.recover_samples,
                          base.recover_samples);
  m.updated_ms = now_ms;
  return m;
}

} // namespace

void Engine::update_daily(const learn::EffectivenessState& now_state, std::int64_t now_ms) {
  const std::string today = utc_day(now_ms);
  std::vector<storage::DailyHealingMetrics> rows;
  if (m_daily_day.empty()) {
    m_daily_day = today; // the first day starts now: what came before belongs to no day
    m_daily_base = now_state;
  } else if (m_daily_day != today) {
    rows.push_back(day_figures(m_daily_day, m_daily_base, now_state, now_ms)); // its last word
    m_daily_day = today;
    m_daily_base = now_state;
  }
  rows.push_back(day_figures(today, m_daily_base, now_state, now_ms));
  const bool queued = m_storage_worker.try_submit(
      [this, rows = std::move(rows)]() -> uv::Worker::Completion {
        for (const auto& row : rows) {
          if (auto stored = m_store.put_daily_metrics(row); !stored) {
            return [this, why = stored.error().message()] {
              ++m_counters.store_errors;
              spdlog::error("engine: storing the daily healing metrics: {}", why);
            };
          }
        }
        return [] {};
      });
  if (!queued) {
    ++m_counters.store_errors; // the next save writes the day again
  }
}

} // namespace medic::coordinator::engine
