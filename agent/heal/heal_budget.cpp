// SPDX-License-Identifier: Apache-2.0
#include "agent/heal/heal_budget.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace medic::agent::heal {

namespace {

// splitmix64: tiny, portable and the same on every platform, so a seed gives the same jitter
// sequence everywhere (std distributions may differ between standard libraries).
std::uint64_t next_random(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

} // namespace

std::string_view to_string(Gate gate) noexcept {
  switch (gate) {
  case Gate::allowed: return "allowed";
  case Gate::cooling_down: return "cooling_down";
  case Gate::exhausted: return "exhausted";
  case Gate::flapping: return "flapping";
  }
  return "unknown";
}

HealBudget::HealBudget(BudgetSettings settings, std::uint64_t seed, std::size_t capacity)
    : m_settings(settings), m_rng(seed), m_capacity(std::max<std::size_t>(capacity, 1)) {}

std::int64_t HealBudget::base_delay_ms(std::uint32_t attempt) const noexcept {
  const std::int64_t max = m_settings.backoff_max.count();
  std::int64_t delay = std::min(m_settings.backoff_base.count(), max);
  for (std::uint32_t i = 1; i < attempt && delay < max; ++i) {
    delay = std::min(delay * 2, max); // stops doubling at max: no overflow however many attempts
  }
  return delay;
}

std::int64_t HealBudget::jittered(std::int64_t delay_ms) noexcept {
  const double unit = static_cast<double>(next_random(m_rng) >> 11) * 0x1.0p-53; // [0, 1)
  const double factor = 1.0 + m_settings.jitter * (2.0 * unit - 1.0);
  return std::llround(static_cast<double>(delay_ms) * factor);
}

bool HealBudget::proven_healthy(const Target& target, std::int64_t now_ms) const noexcept {
  return !target.firing && target.healthy_since_ms >= 0 &&
         now_ms - target.healthy_since_ms >= m_settings.healthy_for.count();
}

void HealBudget::reset_if_healthy(Target& target, std::int64_t now_ms) noexcept {
  if (!proven_healthy(target, now_ms)) {
    return;
  }
  for (Key& key : target.keys) {
    // needs_person stays: only reconnecting (a person can now see it) clears that.
    key.attempts = 0;
    key.window_attempts = 0;
    key.next_allowed_ms = 0;
    key.last_delay_ms = 0;
  }
}

Verdict HealBudget::check(BudgetKey key, std::int64_t now_ms,
                          std::optional<std::uint32_t> max_attempts) const {
  const auto target = m_targets.find(key.target);
  if (target == m_targets.end()) {
    return {};
  }
  const auto& keys = target->second.keys;
  const auto found =
      std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.action == key.action; });
  const std::uint32_t attempts = found == keys.end() ? 0 : found->attempts;
  if (target->second.flapping) {
    return {Gate::flapping, 0, attempts};
  }
  if (found == keys.end()) {
    return {};
  }
  if (found->needs_person) {
    return {Gate::exhausted, 0, attempts};
  }
  if (proven_healthy(target->second, now_ms)) {
    return {};
  }
  const std::int64_t window = m_settings.window.count();
  const bool stale_run = now_ms - found->last_attempt_ms >= window; // done was never reported
  if ((found->running && !stale_run) || now_ms < found->next_allowed_ms) {
    return {Gate::cooling_down, found->next_allowed_ms, attempts};
  }
  const bool window_over = now_ms - found->window_start_ms >= window;
  const std::uint32_t limit = max_attempts.value_or(m_settings.max_attempts);
  if (!window_over && found->window_attempts >= limit) {
    return {Gate::exhausted, 0, attempts};
  }
  return {Gate::allowed, 0, attempts};
}

std::int64_t HealBudget::record_attempt(BudgetKey key, std::int64_t now_ms) {
  Target& target = target_for(key.target, now_ms);
  reset_if_healthy(target, now_ms);
  Key& k = key_for(target, key.target, key.action);
  if (k.window_attempts == 0 || now_ms - k.window_start_ms >= m_settings.window.count()) {
    k.window_start_ms = now_ms;
    k.window_attempts = 0;
  }
  if (k.attempts < std::numeric_limits<std::uint32_t>::max()) {
    ++k.attempts;
  }
  ++k.window_attempts; // bounded by max_attempts: check() refuses more within the window
  k.last_attempt_ms = now_ms;
  k.last_delay_ms = jittered(base_delay_ms(k.attempts));
  k.next_allowed_ms = now_ms + k.last_delay_ms;
  k.running = true;
  target.last_event_ms = now_ms;
  return k.next_allowed_ms;
}

void HealBudget::record_done(BudgetKey key, std::int64_t now_ms) {
  if (Key* k = find_key(key)) {
    k->running = false;
    k->next_allowed_ms = std::max(k->next_allowed_ms, now_ms + k->last_delay_ms);
  }
}

void HealBudget::defer(BudgetKey key, std::int64_t until_ms, std::int64_t now_ms) {
  Target& target = target_for(key.target, now_ms);
  Key& k = key_for(target, key.target, key.action);
  k.next_allowed_ms = std::max(k.next_allowed_ms, until_ms);
}

void HealBudget::mark_needs_person(BudgetKey key) {
  if (Key* k = find_key(key)) {
    k->needs_person = true;
  }
}

void HealBudget::target_fired(std::string_view target_name, std::int64_t now_ms) {
  Target& target = target_for(target_name, now_ms);
  reset_if_healthy(target, now_ms);
  target.firing = true;
  target.healthy_since_ms = -1;
  target.last_event_ms = now_ms;
}

void HealBudget::target_cleared(std::string_view target_name, std::int64_t now_ms) {
  Target& target = target_for(target_name, now_ms);
  if (target.firing) {
    auto& cycles = target.cycles;
    const std::int64_t oldest = now_ms - m_settings.flap_window.count();
    cycles.erase(
        std::remove_if(cycles.begin(), cycles.end(), [&](std::int64_t t) { return t < oldest; }),
        cycles.end());
    cycles.push_back(now_ms);
    if (cycles.size() > m_settings.flap_cycles) {
      target.flapping = true;
      cycles.erase(cycles.begin()); // holds at most flap_cycles + 1 times
    }
  }
  if (target.firing || target.healthy_since_ms < 0) {
    target.healthy_since_ms = now_ms; // a repeated clear does not restart the healthy period
  }
  target.firing = false;
  target.last_event_ms = now_ms;
}

void HealBudget::reconnected() {
  for (auto& [name, target] : m_targets) {
    target.flapping = false;
    target.cycles.clear();
    for (Key& key : target.keys) {
      key.needs_person = false;
      key.window_attempts = 0;
    }
  }
}

void HealBudget::settle(std::int64_t now_ms) {
  for (auto& [name, target] : m_targets) {
    reset_if_healthy(target, now_ms);
  }
}

std::vector<BudgetEntry> HealBudget::entries() const {
  std::vector<BudgetEntry> out;
  out.reserve(m_keys);
  for (const auto& [name, target] : m_targets) {
    for (const Key& k : target.keys) {
      out.push_back({name, k.action, k.attempts, k.window_attempts, k.window_start_ms,
                     k.last_attempt_ms, k.next_allowed_ms, k.last_delay_ms, k.needs_person,
                     k.running, target.flapping, target.healthy_since_ms});
    }
  }
  return out;
}

void HealBudget::restore(const std::vector<BudgetEntry>& entries, std::int64_t now_ms) {
  m_targets.clear();
  m_keys = 0;
  for (const auto& e : entries) {
    if (m_keys >= m_capacity && m_targets.find(e.target) == m_targets.end()) {
      continue; // a smaller capacity than the saved state: the rest is dropped
    }
    Target& target = target_for(e.target, now_ms);
    target.flapping = target.flapping || e.target_flapping;
    target.healthy_since_ms = e.healthy_since_ms >= 0 ? e.healthy_since_ms : now_ms;
    target.last_event_ms = std::max(target.last_event_ms, e.last_attempt_ms);
    Key& k = key_for(target, e.target, e.action);
    k.attempts = e.attempts;
    k.window_attempts = e.window_attempts;
    k.window_start_ms = e.window_start_ms;
    k.last_attempt_ms = e.last_attempt_ms;
    k.next_allowed_ms = e.next_allowed_ms;
    k.last_delay_ms = e.last_delay_ms;
    k.needs_person = e.needs_person;
    k.running = false; // nothing survives a restart still running
  }
}

HealBudget::Target& HealBudget::target_for(std::string_view name, std::int64_t now_ms) {
  auto found = m_targets.find(name);
  if (found != m_targets.end()) {
    return found->second;
  }
  if (m_targets.size() >= m_capacity) {
    evict_one(name);
  }
  Target& target = m_targets.emplace(std::string(name), Target{}).first->second;
  target.last_event_ms = now_ms;
  return target;
}

HealBudget::Key& HealBudget::key_for(Target& target, std::string_view target_name,
                                     std::string_view action) {
  const auto found = std::find_if(target.keys.begin(), target.keys.end(),
                                  [&](const Key& k) { return k.action == action; });
  if (found != target.keys.end()) {
    return *found;
  }
  while (m_keys >= m_capacity && m_targets.size() > 1) {
    evict_one(target_name);
  }
  if (m_keys >= m_capacity && !target.keys.empty()) { // this target alone holds them all
    target.keys.erase(target.keys.begin());
    --m_keys;
  }
  ++m_keys;
  Key& key = target.keys.emplace_back();
  key.action = std::string(action);
  return key;
}

HealBudget::Key* HealBudget::find_key(BudgetKey key) {
  const auto target = m_targets.find(key.target);
  if (target == m_targets.end()) {
    return nullptr;
  }
  auto& keys = target->second.keys;
  const auto found =
      std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.action == key.action; });
  return found == keys.end() ? nullptr : &*found;
}

// Forgets the idlest target other than `keep`: a quiet one (not firing, nothing latched)
// first, else any. Linear, but only when a new target or key arrives at capacity.
void HealBudget::evict_one(std::string_view keep) {
  auto victim = m_targets.end();
  bool victim_quiet = false;
  for (auto it = m_targets.begin(); it != m_targets.end(); ++it) {
    if (it->first == keep) {
      continue;
    }
    const Target& t = it->second;
    const bool quiet = !t.firing && !t.flapping &&
                       std::none_of(t.keys.begin(), t.keys.end(),
                                    [](const Key& k) { return k.needs_person || k.running; });
    const bool better = victim == m_targets.end() || (quiet && !victim_quiet) ||
                        (quiet == victim_quiet && t.last_event_ms < victim->second.last_event_ms);
    if (better) {
      victim = it;
      victim_quiet = quiet;
    }
  }
  if (victim != m_targets.end()) {
    m_keys -= victim->second.keys.size();
    m_targets.erase(victim);
  }
}

} // namespace medic::agent::heal
