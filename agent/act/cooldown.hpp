// SPDX-License-Identifier: Apache-2.0
// The catalog's per-action cooldown, enforced per (action, target): the target is the action's
// bound parameters, so a restart of unit A does not hold back a restart of unit B. Both paths
// that run actions consult it (COMMANDs from the coordinator and the fallback healer), so the
// cooldown holds whoever asked first. Diagnostic actions (cooldown 0s) never wait.
// Bounded: at most `capacity` keys; past it the expired entries go first, then the ones that
// end soonest. Pure logic: time comes in as Unix ms. Loop thread only (owned by loop::Acting).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/act/action.hpp"

namespace medic::agent::act {

// One key as a plain value, to persist in the spool (heal/audit_log.hpp) across restarts.
struct CooldownEntry {
  std::string key; // cooldown_key(): the action's name and its bound parameters
  std::int64_t until_ms = 0;
  friend bool operator==(const CooldownEntry&, const CooldownEntry&) = default;
};

// "<len>:<action>" then each bound parameter as "\n<len>:<name><len>:<value>": unambiguous
// whatever bytes the names and values hold.
[[nodiscard]] std::string cooldown_key(const Action& action, const BoundParams& params);

// For people: "the cooldown of 'NAME' for these parameters ends at 2026-11-23T08:01:02.345Z
// (in 59.8s)".
[[nodiscard]] std::string describe_cooldown(std::string_view action, std::int64_t until_ms,
                                            std::int64_t now_ms);

class Cooldowns {
public:
  explicit Cooldowns(std::size_t capacity = 1024);

  // When the cooldown of `action` run with `params` ends, if that is after now_ms.
  [[nodiscard]] std::optional<std::int64_t> until(const Action& action, const BoundParams& params,
                                                  std::int64_t now_ms) const;
  // The action starts now with `params`: the next run waits until now + its cooldown. Returns
  // the entry to persist; nothing for an action without a cooldown.
  std::optional<CooldownEntry> started(const Action& action, const BoundParams& params,
                                       std::int64_t now_ms);
  // At start-up, from the spool: entries already over are dropped.
  void restore(const std::vector<CooldownEntry>& entries, std::int64_t now_ms);

  [[nodiscard]] std::size_t size() const noexcept { return m_until.size(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }

private:
  void put(std::string key, std::int64_t until_ms, std::int64_t now_ms);
  void make_room(std::int64_t now_ms);

  std::size_t m_capacity;
  std::map<std::string, std::int64_t, std::less<>> m_until;
};

} // namespace medic::agent::act
