// SPDX-License-Identifier: Apache-2.0
#include "coordinator/plan/recovery_limits.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "shared/config/units.hpp"

namespace medic::coordinator::plan {

namespace {

constexpr std::int64_t k_day_ms = std::int64_t{24} * 3'600'000;
constexpr std::uint32_t k_max_level = 64;

std::string cooldown_key(const RecoveryKey& key) {
  return learn::join_key(learn::join_key(key.host, key.target), key.action);
}

std::string in_words(std::int64_t from_ms, std::int64_t at_ms) {
  return medic::config::format_duration(
             std::chrono::milliseconds(std::max<std::int64_t>(0, at_ms - from_ms))) +
         " (at " + format_utc(at_ms) + ")";
}

} // namespace

std::string format_utc(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm parts{};
  if (gmtime_r(&seconds, &parts) == nullptr) {
    return std::to_string(unix_ms) + " ms";
  }
  char buffer[32];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(buffer, n);
}

RecoveryLimits::RecoveryLimits(const PlanConfig& config)
    : m_config(config), m_cooldowns(config.max_tracked), m_starts(config.max_tracked) {}

std::int64_t RecoveryLimits::cooldown_ms(std::uint32_t level) const noexcept {
  const std::int64_t cap = m_config.cooldown_max.count();
  std::int64_t delay = m_config.cooldown.count();
  for (std::uint32_t i = 1; i < level && delay < cap; ++i) {
    delay *= m_config.cooldown_factor;
  }
  return std::min(delay, cap);
}

std::optional<std::uint32_t> RecoveryLimits::backoff_level(const RecoveryKey& key) const {
  const Cooldown* cooldown = m_cooldowns.peek(cooldown_key(key));
  return cooldown == nullptr ? std::nullopt : std::optional(cooldown->level);
}

std::optional<Hold> RecoveryLimits::check(const RecoveryKey& key, std::int64_t now_ms) {
  drop_stale(now_ms);
  if (auto hold = check_running(key)) {
    return hold;
  }
  if (auto hold = check_cooldown(key, now_ms)) {
    return hold;
  }
  return check_daily(key, now_ms);
}

std::optional<Hold> RecoveryLimits::check_running(const RecoveryKey& key) const {
  std::uint32_t on_host = 0;
  for (const Running& run : m_running) {
    if (run.key.incident == key.incident) {
      return Hold{"a recovery (" + run.key.action +
                      ") of this incident is still running; the "
                      "next decision comes after its result",
                  std::nullopt};
    }
    on_host += run.key.host == key.host ? 1 : 0;
  }
  if (m_running.size() >= m_config.max_concurrent) {
    return Hold{std::to_string(m_running.size()) + " recoveries are running (plan.max_concurrent " +
                    std::to_string(m_config.max_concurrent) + "); it frees up when one finishes",
                std::nullopt};
  }
  if (on_host >= m_config.max_per_host) {
    return Hold{std::to_string(on_host) + " recoveries are running on host '" + key.host +
                    "' (plan.max_per_host " + std::to_string(m_config.max_per_host) +
                    "); it frees up when one finishes",
                std::nullopt};
  }
  return std::nullopt;
}

std::optional<Hold> RecoveryLimits::check_cooldown(const RecoveryKey& key,
                                                   std::int64_t now_ms) const {
  const Cooldown* cooldown = m_cooldowns.peek(cooldown_key(key));
  if (cooldown == nullptr || now_ms >= cooldown->until_ms) {
    return std::nullopt;
  }
  return Hold{
      "'" + key.action + "' on host '" + key.host + "' is cooling down after run " +
          std::to_string(cooldown->level) + " in a row (plan.cooldown " +
          medic::config::format_duration(m_config.cooldown) + ", backoff now " +
          medic::config::format_duration(std::chrono::milliseconds(cooldown_ms(cooldown->level))) +
          "); it frees up in " + in_words(now_ms, cooldown->until_ms),
      cooldown->until_ms};
}

std::optional<Hold> RecoveryLimits::check_daily(const RecoveryKey& key, std::int64_t now_ms) {
  std::deque<std::int64_t>* starts = m_starts.find(key.action);
  if (starts == nullptr) {
    return std::nullopt;
  }
  while (!starts->empty() && starts->front() <= now_ms - k_day_ms) {
    starts->pop_front();
  }
  if (starts->size() < m_config.max_per_action_per_day) {
    return std::nullopt;
  }
  // The oldest start that still counts leaves the window first.
  const std::int64_t frees = (*starts)[starts->size() - m_config.max_per_action_per_day] + k_day_ms;
  return Hold{"'" + key.action + "' started " + std::to_string(starts->size()) +
                  " times in the last 24 hours (plan.max_per_action_per_day " +
                  std::to_string(m_config.max_per_action_per_day) + "); it frees up in " +
                  in_words(now_ms, frees),
              frees};
}

void RecoveryLimits::started(const RecoveryKey& key, std::int64_t now_ms) {
  if (m_running.size() >= k_max_running) {
    m_running.erase(m_running.begin());
    ++m_stale_running;
  }
  m_running.push_back({key, now_ms});
  Cooldown& cooldown = m_cooldowns.get_or_insert(cooldown_key(key), [] { return Cooldown{}; });
  if (cooldown.last_success_ms >= 0 &&
      now_ms - cooldown.last_success_ms >= m_config.cooldown_reset.count()) {
    cooldown.level = 0; // the last success held: start the backoff over
  }
  cooldown.level = std::min(cooldown.level + 1, k_max_level);
  cooldown.last_success_ms = -1;
  cooldown.until_ms = now_ms + cooldown_ms(cooldown.level);
  auto& starts = m_starts.get_or_insert(key.action, [] { return std::deque<std::int64_t>{}; });
  starts.push_back(now_ms);
  // Only the latest max_per_action_per_day starts can matter.
  while (starts.size() > m_config.max_per_action_per_day) {
    starts.pop_front();
  }
}

void RecoveryLimits::finished(const RecoveryKey& key, bool success, std::int64_t now_ms) {
  const auto found = std::find_if(m_running.begin(), m_running.end(),
                                  [&key](const Running& run) { return run.key == key; });
  if (found == m_running.end()) {
    ++m_unknown_finishes;
  } else {
    m_running.erase(found);
  }
  Cooldown& cooldown =
      m_cooldowns.get_or_insert(cooldown_key(key), [] { return Cooldown{.level = 1}; });
  // The cooldown counts from the result: a slow action does not eat its own cooldown.
  cooldown.until_ms = now_ms + cooldown_ms(std::max<std::uint32_t>(cooldown.level, 1));
  cooldown.last_success_ms = success ? now_ms : -1;
}

void RecoveryLimits::drop_stale(std::int64_t now_ms) {
  const auto stale = std::remove_if(m_running.begin(), m_running.end(), [now_ms](const Running& r) {
    return now_ms - r.started_ms > k_running_stale_ms;
  });
  m_stale_running += static_cast<std::uint64_t>(m_running.end() - stale);
  m_running.erase(stale, m_running.end());
}

std::vector<CooldownRow> RecoveryLimits::cooldown_rows() const {
  std::vector<CooldownRow> rows;
  m_cooldowns.for_each_oldest_first([&rows](const std::string& key, const Cooldown& cooldown) {
    // The key is host, target, action joined by the unit separator (none of them holds one).
    const auto first = key.find('\x1f');
    const auto second = key.find('\x1f', first + 1);
    rows.push_back(CooldownRow{key.substr(0, first), key.substr(first + 1, second - first - 1),
                               key.substr(second + 1), cooldown.level, cooldown.until_ms,
                               cooldown.last_success_ms});
  });
  return rows;
}

std::vector<ActionStartsRow> RecoveryLimits::start_rows() const {
  std::vector<ActionStartsRow> rows;
  m_starts.for_each_oldest_first(
      [&rows](const std::string& action, const std::deque<std::int64_t>& starts) {
        rows.push_back(ActionStartsRow{action, {starts.begin(), starts.end()}});
      });
  return rows;
}

void RecoveryLimits::restore(const std::vector<CooldownRow>& cooldowns,
                             const std::vector<ActionStartsRow>& starts) {
  m_cooldowns.clear();
  m_starts.clear();
  for (const CooldownRow& row : cooldowns) {
    const RecoveryKey key{0, row.host, row.action, row.target};
    m_cooldowns.get_or_insert(cooldown_key(key), [] { return Cooldown{}; }) =
        Cooldown{std::min(row.level, k_max_level), row.until_ms, row.last_success_ms};
  }
  for (const ActionStartsRow& row : starts) {
    auto& kept = m_starts.get_or_insert(row.action, [] { return std::deque<std::int64_t>{}; });
    kept.assign(row.starts_ms.begin(), row.starts_ms.end());
    std::sort(kept.begin(), kept.end());
    while (kept.size() > m_config.max_per_action_per_day) {
      kept.pop_front();
    }
  }
}

LimitCounters RecoveryLimits::counters() const noexcept {
  return LimitCounters{m_cooldowns.evictions(), m_starts.evictions(), m_stale_running,
                       m_unknown_finishes};
}

} // namespace medic::coordinator::plan
