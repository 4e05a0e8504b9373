// SPDX-License-Identifier: Apache-2.0
#include "coordinator/correlate/dependency_graph.hpp"

#include <algorithm>
#include <set>

namespace medic::coordinator::correlate {

namespace {

using Direct = std::map<std::string, std::vector<std::string>, std::less<>>;

// Longest chain to every reachable service. A service is walked again only when reached by a
// longer chain, which ends on a DAG; `limit` (the number of services) cuts a cycle.
void reach(const Direct& direct, const std::string& from, std::uint32_t depth, std::uint32_t limit,
           std::map<std::string, std::uint32_t>& best) {
  const auto it = direct.find(from);
  if (it == direct.end() || depth > limit) {
    return;
  }
  for (const auto& next : it->second) {
    auto& known = best[next];
    if (known < depth) {
      known = depth;
      reach(direct, next, depth + 1, limit, best);
    }
  }
}

} // namespace

DependencyGraph::DependencyGraph(const std::vector<Dependency>& dependencies) {
  Direct direct;
  std::set<std::string> services;
  for (const auto& dep : dependencies) {
    auto& list = direct[dep.service];
    list.insert(list.end(), dep.depends_on.begin(), dep.depends_on.end());
    services.insert(dep.service);
    services.insert(dep.depends_on.begin(), dep.depends_on.end());
  }
  const auto limit = static_cast<std::uint32_t>(services.size());
  for (const auto& [service, unused] : direct) {
    std::map<std::string, std::uint32_t> best;
    reach(direct, service, 1, limit, best);
    best.erase(service); // only through a cycle
    auto& down = m_down[service];
    for (const auto& [name, depth] : best) {
      down.push_back({name, depth});
      m_up[name].push_back(service);
    }
    std::stable_sort(down.begin(), down.end(),
                     [](const Reach& a, const Reach& b) { return a.depth > b.depth; });
  }
  for (auto& [name, up] : m_up) {
    std::sort(up.begin(), up.end());
  }
}

const std::vector<Reach>& DependencyGraph::dependencies_of(std::string_view service) const {
  static const std::vector<Reach> k_none;
  const auto it = m_down.find(service);
  return it == m_down.end() ? k_none : it->second;
}

const std::vector<std::string>& DependencyGraph::dependants_of(std::string_view service) const {
  static const std::vector<std::string> k_none;
  const auto it = m_up.find(service);
  return it == m_up.end() ? k_none : it->second;
}

} // namespace medic::coordinator::correlate
