// SPDX-License-Identifier: Apache-2.0
// The correlation.* keys and the dependency map (`dependencies`): how signals fold into
// incidents and how incidents are linked to their probable root.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::correlate {

// One record of `dependencies`: incidents of `service` are caused by open incidents of the
// services it depends on (on any host), and are then not remediated on their own.
struct Dependency {
  std::string service;
  std::vector<std::string> depends_on;
  friend bool operator==(const Dependency&, const Dependency&) = default;
};

struct CorrelationConfig {
  // After a `cleared` signal, the incident resolves when no firing arrived for this long.
  std::chrono::milliseconds quiet_period{std::chrono::minutes(2)};
  // A fire this soon after resolution reopens the same incident; resolved incidents are
  // forgotten after it.
  std::chrono::milliseconds reopen_window{std::chrono::hours(1)};
  // Incidents of one host opened within this of each other form a group with one probable root.
  std::chrono::milliseconds group_window{std::chrono::minutes(5)};
  // A fingerprint firing on many hosts within this is one fleet incident.
  std::chrono::milliseconds fleet_window{std::chrono::minutes(2)};
  std::uint32_t fleet_min_hosts = 5;    // 0 = no fleet incident by host count
  std::uint32_t fleet_min_percent = 50; // of the hosts of a group; 0 = no fleet by percentage
  std::string group_label = "group";    // the agent label naming its host group
  // More than flap_count openings (first one included) within flap_window: flapping.
  std::uint32_t flap_count = 3;
  std::chrono::milliseconds flap_window{std::chrono::hours(1)};
  // Open incidents kept (fleet ones included); a new fingerprint beyond it is dropped and
  // counted. As many resolved incidents are remembered for reopening, the oldest forgotten first.
  std::uint32_t max_open = 10'000;
  std::vector<Dependency> dependencies;
};

// Registers correlation.* and `dependencies` on `schema`; `config` must outlive its loads.
void add_correlation_keys(medic::config::Schema& schema, CorrelationConfig& config);

// Cross-key checks: fleet_min_hosts is 0 or at least 2; every dependency names services, none
// twice, none depends on itself, and the map has no cycle ("dependencies: cycle api -> db ->
// api"). Errors name the record or key that is wrong.
[[nodiscard]] Result<void> finish_correlation(CorrelationConfig& config);

} // namespace medic::coordinator::correlate
