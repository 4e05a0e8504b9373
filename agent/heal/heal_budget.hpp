// SPDX-License-Identifier: Apache-2.0
// The remediation budget of local healing, per (target fingerprint, action): exponential backoff
// with jitter between attempts, at most max_attempts attempts per window (then the key needs a
// person until the coordinator is back), and flap detection per target. Attempts and backoff
// reset only once the target has been continuously healthy for healthy_for: an action that
// exits 0 proves nothing (a slow starter that crashes again would otherwise restart forever).
// Pure logic: time comes in as Unix ms, randomness from the seed given at construction.
// Not thread-safe: owned by the agent's loop thread (through FallbackHealer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/heal/heal_config.hpp"

namespace medic::agent::heal {

enum class Gate : std::uint8_t {
  allowed,      // an attempt may run now
  cooling_down, // the backoff after the last attempt has not passed (or it still runs)
  exhausted,    // max_attempts within the window: a person must look (held until reconnected)
  flapping,     // the target fires and clears too often to act on (held until reconnected)
};
[[nodiscard]] std::string_view to_string(Gate gate) noexcept;

// Views: the caller's strings must outlive the call only.
struct BudgetKey {
  std::string_view target; // the signal's fingerprint
  std::string_view action;
};

struct Verdict {
  Gate gate = Gate::allowed;
  std::int64_t retry_at_ms = 0; // cooling_down: when the backoff ends; else 0
  std::uint32_t attempts = 0;   // attempts since the target was last proven healthy
};

// One key's state as a plain value, to persist (audit_log.hpp) and to send to the coordinator.
// The target_* fields are the target's, repeated on each of its keys.
struct BudgetEntry {
  std::string target;
  std::string action;
  std::uint32_t attempts = 0;        // since last proven healthy: the backoff exponent
  std::uint32_t window_attempts = 0; // attempts in the window that began at window_start_ms
  std::int64_t window_start_ms = 0;
  std::int64_t last_attempt_ms = 0;
  std::int64_t next_allowed_ms = 0; // the backoff ends
  std::int64_t last_delay_ms = 0;   // the jittered backoff chosen at the last attempt
  bool needs_person = false;
  bool running = false; // an attempt was recorded and is not done yet
  bool target_flapping = false;
  std::int64_t healthy_since_ms = -1; // target cleared then, not fired since; -1: firing/unknown
  friend bool operator==(const BudgetEntry&, const BudgetEntry&) = default;
};

class HealBudget {
public:
  // `capacity` bounds both the targets and the keys held; past it the idlest target (not
  // firing, not needing a person first) is forgotten with its keys.
  HealBudget(BudgetSettings settings, std::uint64_t seed, std::size_t capacity = 1024);

  // `max_attempts` overrides the setting (a rule's own limit). Order: flapping, needs_person,
  // proven healthy (a fresh budget), running or backing off, then the window's attempt count.
  // A key is only exhausted once its backoff has passed: the last attempt may still succeed.
  [[nodiscard]] Verdict check(BudgetKey key, std::int64_t now_ms,
                              std::optional<std::uint32_t> max_attempts = {}) const;
  // An attempt starts now: counts it and starts the next backoff. Returns when it ends.
  std::int64_t record_attempt(BudgetKey key, std::int64_t now_ms);
  // The attempt ended (whatever its outcome): the backoff counts from now at the earliest, so
  // a slow action is not retried the moment it finishes. Never resets anything.
  void record_done(BudgetKey key, std::int64_t now_ms);
  // Holds the key back until `until_ms` without counting an attempt: the action's own cooldown
  // (act/cooldown.hpp), started by another path or target, outlasts the backoff.
  void defer(BudgetKey key, std::int64_t until_ms, std::int64_t now_ms);
  // Latches needs_person on the key (the caller saw Gate::exhausted).
  void mark_needs_person(BudgetKey key);

  void target_fired(std::string_view target, std::int64_t now_ms);
  void target_cleared(std::string_view target, std::int64_t now_ms);
  // The coordinator is reachable again and has (or will get) the audit: clears needs_person,
  // the window counts and flapping. The backoff exponent stays until the target proves healthy.
  void reconnected();
  // Applies the resets of targets healthy for healthy_for. Cheap; call from the heal tick.
  void settle(std::int64_t now_ms);

  [[nodiscard]] std::vector<BudgetEntry> entries() const;
  // Replaces the whole state (at start-up, from the spool). A target that was firing or unknown
  // counts as healthy from `now_ms`: after a restart its detector fires again if it is still
  // bad, and a target that recovered meanwhile must not keep its attempts forever.
  void restore(const std::vector<BudgetEntry>& entries, std::int64_t now_ms);

  [[nodiscard]] std::size_t targets() const noexcept { return m_targets.size(); }
  [[nodiscard]] std::size_t keys() const noexcept { return m_keys; }
  [[nodiscard]] const BudgetSettings& settings() const noexcept { return m_settings; }
  // The jitter-free backoff after the n-th attempt (n >= 1): base * 2^(n-1), at most max.
  [[nodiscard]] std::int64_t base_delay_ms(std::uint32_t attempt) const noexcept;

private:
  struct Key {
    std::string action;
    std::uint32_t attempts = 0, window_attempts = 0;
    std::int64_t window_start_ms = 0, last_attempt_ms = 0, next_allowed_ms = 0, last_delay_ms = 0;
    bool needs_person = false, running = false;
  };
  struct Target {
    bool firing = false, flapping = false;
    std::int64_t healthy_since_ms = -1;
    std::int64_t last_event_ms = 0;
    std::vector<std::int64_t> cycles; // clear times of recent fire->clear cycles
    std::vector<Key> keys;
  };
  using Targets = std::map<std::string, Target, std::less<>>;

  [[nodiscard]] bool proven_healthy(const Target& target, std::int64_t now_ms) const noexcept;
  void reset_if_healthy(Target& target, std::int64_t now_ms) noexcept;
  Target& target_for(std::string_view target, std::int64_t now_ms);
  Key& key_for(Target& target, std::string_view target_name, std::string_view action);
  [[nodiscard]] Key* find_key(BudgetKey key);
  void evict_one(std::string_view keep);
  [[nodiscard]] std::int64_t jittered(std::int64_t delay_ms) noexcept;

  BudgetSettings m_settings;
  std::uint64_t m_rng;
  std::size_t m_capacity;
  std::size_t m_keys = 0;
  Targets m_targets;
};

} // namespace medic::agent::heal
