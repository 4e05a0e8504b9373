// SPDX-License-Identifier: Apache-2.0
#include "coordinator/learn/error_pattern.hpp"

#include <algorithm>

namespace medic::coordinator::learn {

void ErrorPattern::seen(std::string_view rule_id, std::int64_t now_ms) {
  if (occurrences == 0) {
    rule = rule_id;
    first_seen_ms = now_ms;
  }
  ++occurrences;
  last_seen_ms = std::max(last_seen_ms, now_ms);
}

void ErrorPattern::recovered(std::string_view action, bool success, std::int64_t now_ms) {
  ++recoveries;
  if (success) {
    ++recovery_successes;
  }
  // Most recent last, each action once: an action tried again moves to the end.
  const auto found = std::find(actions_tried.begin(), actions_tried.end(), action);
  if (found != actions_tried.end()) {
    actions_tried.erase(found);
  } else if (actions_tried.size() >= k_max_actions) {
    actions_tried.erase(actions_tried.begin());
  }
  actions_tried.emplace_back(action);
  if (first_seen_ms == 0) {
    first_seen_ms = now_ms;
  }
  last_seen_ms = std::max(last_seen_ms, now_ms);
}

double ErrorPattern::success_rate() const noexcept {
  return recoveries == 0
             ? 0.0
             : static_cast<double>(recovery_successes) / static_cast<double>(recoveries);
}

} // namespace medic::coordinator::learn
