// SPDX-License-Identifier: Apache-2.0
// The count-in-window condition of one log rule: "`threshold` matches within `window_ms`" fires,
// and it clears once the count in the window has stayed below the threshold for `quiet_ms`
// (0: at once). A match counts while now - its time < window_ms, so five matches spread over
// exactly 60 s are not "5 in 60 s".
//
// The timestamps live in a ring of `threshold` entries allocated at construction: "at least
// `threshold` in the window" holds exactly when the threshold-th newest match is in it, so older
// matches never need keeping. Timestamps are monotonic milliseconds; one earlier than the last
// seen is taken as the last seen (time never runs backwards here).
//
// Not thread-safe: belongs to the thread that feeds the rules (the agent's loop).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace medic::agent::detect {

enum class WindowChange : std::uint8_t { none, fire, clear };

class LogCountWindow {
public:
  // threshold >= 1 and window_ms >= 1 are checked by the rule set that builds windows.
  LogCountWindow(std::uint32_t threshold, std::int64_t window_ms, std::int64_t quiet_ms);

  // A match at t_ms. Returns fire on the match that brings the count to the threshold while not
  // firing, never clear: call advance(t_ms) first to get a clear that fell due before this
  // match (otherwise a rule that is back at its threshold simply stays firing).
  WindowChange record(std::int64_t t_ms);
  // Time passes without a match (called from a timer). Returns clear when the quiet period
  // has ended.
  WindowChange advance(std::int64_t t_ms);

  // Matches in the window as of the last call, at most the threshold.
  [[nodiscard]] std::uint32_t count() const noexcept { return m_size; }
  [[nodiscard]] bool firing() const noexcept { return m_firing; }
  [[nodiscard]] std::uint32_t threshold() const noexcept { return m_threshold; }

private:
  std::int64_t clamp(std::int64_t t_ms) noexcept;
  void expire(std::int64_t t_ms) noexcept;
  WindowChange check_clear(std::int64_t t_ms) noexcept;

  std::uint32_t m_threshold;
  std::int64_t m_window_ms;
  std::int64_t m_quiet_ms;
  std::vector<std::int64_t> m_ring;
  std::uint32_t m_head = 0; // oldest entry
  std::uint32_t m_size = 0;
  bool m_firing = false;
  std::optional<std::int64_t> m_below_since; // while firing: when the count fell below
  std::int64_t m_last_ms = INT64_MIN;
};

} // namespace medic::agent::detect
