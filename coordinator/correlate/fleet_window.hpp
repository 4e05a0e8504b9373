// SPDX-License-Identifier: Apache-2.0
// The hosts that fired one fingerprint within the fleet window, counted overall and per host
// group, with O(log n) per firing and amortised O(1) expiry.
#pragma once

#include <cstdint>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace medic::coordinator::correlate {

using AgentIndex = std::uint32_t; // the Correlator's interned agent ids
using GroupIndex = std::uint32_t; // interned host groups; 0 = none

class FleetWindow {
public:
  // `agent` fired at `now_ms` (moves its time forward; a time going backwards is ignored).
  void fire(AgentIndex agent, GroupIndex group, std::int64_t now_ms);
  // Forgets the agents whose last firing is older than `cutoff_ms`.
  void expire(std::int64_t cutoff_ms);

  [[nodiscard]] std::size_t hosts() const noexcept { return m_last.size(); }
  [[nodiscard]] std::uint32_t hosts_in(GroupIndex group) const;
  [[nodiscard]] bool empty() const noexcept { return m_last.empty(); }
  [[nodiscard]] std::int64_t earliest_ms() const noexcept {
    return m_by_time.empty() ? 0 : m_by_time.begin()->first;
  }
  // The agents in the window, by index.
  [[nodiscard]] std::vector<AgentIndex> agents() const;

private:
  struct Seen {
    std::int64_t last_ms = 0;
    GroupIndex group = 0;
  };
  std::unordered_map<AgentIndex, Seen> m_last;
  std::set<std::pair<std::int64_t, AgentIndex>> m_by_time;
  std::unordered_map<GroupIndex, std::uint32_t> m_per_group;
};

} // namespace medic::coordinator::correlate
