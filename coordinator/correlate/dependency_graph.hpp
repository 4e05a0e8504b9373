// SPDX-License-Identifier: Apache-2.0
// The configured dependency map, closed transitively once at start-up so that a signal never
// walks it: for each service, every service it depends on (deepest chain first), and every
// service that depends on it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/correlate/correlation_config.hpp"

namespace medic::coordinator::correlate {

struct Reach {
  std::string service;
  std::uint32_t depth = 0; // the longest chain of depends_on from the asking service: 1 = direct
};

class DependencyGraph {
public:
  // `dependencies` should have passed finish_correlation (no cycle). A cycle anyway does not
  // loop forever: chains are cut at the number of services.
  explicit DependencyGraph(const std::vector<Dependency>& dependencies);

  // What `service` depends on, directly or not, deepest first (ties by name). Empty for a
  // service the map does not name.
  [[nodiscard]] const std::vector<Reach>& dependencies_of(std::string_view service) const;
  // The services that depend on `service`, directly or not, by name.
  [[nodiscard]] const std::vector<std::string>& dependants_of(std::string_view service) const;
  [[nodiscard]] bool empty() const noexcept { return m_down.empty(); }

private:
  std::map<std::string, std::vector<Reach>, std::less<>> m_down;
  std::map<std::string, std::vector<std::string>, std::less<>> m_up;
};

} // namespace medic::coordinator::correlate
