// SPDX-License-Identifier: Apache-2.0
#include "coordinator/correlate/fleet_window.hpp"

#include <algorithm>

namespace medic::coordinator::correlate {

void FleetWindow::fire(AgentIndex agent, GroupIndex group, std::int64_t now_ms) {
  const auto [it, added] = m_last.try_emplace(agent, Seen{now_ms, group});
  if (added) {
    m_by_time.emplace(now_ms, agent);
    if (group != 0) {
      ++m_per_group[group];
    }
    return;
  }
  if (now_ms <= it->second.last_ms) {
    return;
  }
  m_by_time.erase({it->second.last_ms, agent});
  m_by_time.emplace(now_ms, agent);
  it->second.last_ms = now_ms;
}

void FleetWindow::expire(std::int64_t cutoff_ms) {
  while (!m_by_time.empty() && m_by_time.begin()->first < cutoff_ms) {
    const AgentIndex agent = m_by_time.begin()->second;
    m_by_time.erase(m_by_time.begin());
    const auto it = m_last.find(agent);
    if (it == m_last.end()) {
      continue;
    }
    if (const auto group = m_per_group.find(it->second.group); group != m_per_group.end()) {
      if (--group->second == 0) {
        m_per_group.erase(group);
      }
    }
    m_last.erase(it);
  }
}

std::uint32_t FleetWindow::hosts_in(GroupIndex group) const {
  const auto it = m_per_group.find(group);
  return it == m_per_group.end() ? 0 : it->second;
}

std::vector<AgentIndex> FleetWindow::agents() const {
  std::vector<AgentIndex> out;
  out.reserve(m_last.size());
  for (const auto& [agent, seen] : m_last) {
    out.push_back(agent);
  }
  std::sort(out.begin(), out.end()); // events in the same order on every run
  return out;
}

} // namespace medic::coordinator::correlate
