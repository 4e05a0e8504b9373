// SPDX-License-Identifier: Apache-2.0
// The record medic keeps per error fingerprint (the "error pattern"): how often it was
// seen, when, which actions were tried on it and how often they healed it. Value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace medic::coordinator::learn {

struct ErrorPattern {
  static constexpr std::size_t k_max_actions = 8; // actions_tried keeps the latest distinct ones

  std::string fingerprint{}; // with `rule`, the pattern's signature
  std::string rule{};        // of the first occurrence
  std::uint64_t occurrences = 0;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::vector<std::string> actions_tried{}; // most recent last, at most k_max_actions
  std::uint64_t recoveries = 0;             // verified outcomes of actions run on it
  std::uint64_t recovery_successes = 0;

  // One occurrence (an incident opened or reopened on this fingerprint).
  void seen(std::string_view rule_id, std::int64_t now_ms);
  // One verified outcome of `action` on an incident with this fingerprint.
  void recovered(std::string_view action, bool success, std::int64_t now_ms);
  // successes / recoveries; 0 when nothing was tried.
  [[nodiscard]] double success_rate() const noexcept;

  friend bool operator==(const ErrorPattern&, const ErrorPattern&) = default;
};

} // namespace medic::coordinator::learn
