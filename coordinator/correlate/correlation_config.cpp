// SPDX-License-Identifier: Apache-2.0
#include "coordinator/correlate/correlation_config.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "shared/config/records.hpp"

namespace medic::coordinator::correlate {

namespace {

using namespace std::chrono_literals;
using medic::config::FieldKind;
using medic::config::Record;
using medic::config::RecordField;

constexpr std::uint32_t k_max_flap_count = 64;

std::vector<RecordField> dependency_fields() {
  return {
      {"service", FieldKind::text, true, "the dependant: the `service` label of its incidents", {}},
      {"depends_on",
       FieldKind::text_list,
       true,
       "services it needs; their open incidents (any host) become its incidents' root",
       {}},
  };
}

Result<Dependency> dependency(const Record& record) {
  Dependency dep{record.text("service"), record.text_list("depends_on")};
  if (dep.service.empty()) {
    return fail(record.error("service must not be empty"));
  }
  if (dep.depends_on.empty()) {
    return fail(record.error("depends_on: name at least one service"));
  }
  for (const auto& name : dep.depends_on) {
    if (name.empty()) {
      return fail(record.error("depends_on: a service name is empty"));
    }
    if (name == dep.service) {
      return fail(record.error("depends_on: service '" + name + "' depends on itself"));
    }
  }
  std::sort(dep.depends_on.begin(), dep.depends_on.end());
  dep.depends_on.erase(std::unique(dep.depends_on.begin(), dep.depends_on.end()),
                       dep.depends_on.end());
  return dep;
}

Result<void> apply_dependencies(const std::vector<Record>& records, CorrelationConfig& config) {
  config.dependencies.clear();
  std::set<std::string> seen;
  for (const auto& record : records) {
    auto dep = dependency(record);
    if (!dep) {
      return fail(std::move(dep).error());
    }
    if (!seen.insert(dep->service).second) {
      return fail(record.error("service '" + dep->service +
                               "' is listed twice (give all its dependencies in one record)"));
    }
    config.dependencies.push_back(std::move(*dep));
  }
  return {};
}

// Depth-first search with colours; `path` holds the services being visited, so a service met
// again while on it closes a cycle.
using Graph = std::map<std::string, std::vector<std::string>, std::less<>>;

bool find_cycle(const Graph& graph, const std::string& service, std::map<std::string, int>& colour,
                std::vector<std::string>& path) {
  colour[service] = 1;
  path.push_back(service);
  if (const auto it = graph.find(service); it != graph.end()) {
    for (const auto& next : it->second) {
      const int state = colour[next];
      if (state == 1) {
        path.push_back(next);
        return true;
      }
      if (state == 0 && find_cycle(graph, next, colour, path)) {
        return true;
      }
    }
  }
  colour[service] = 2;
  path.pop_back();
  return false;
}

Result<void> check_acyclic(const std::vector<Dependency>& dependencies) {
  Graph graph;
  for (const auto& dep : dependencies) {
    graph[dep.service] = dep.depends_on;
  }
  std::map<std::string, int> colour;
  for (const auto& [service, unused] : graph) {
    std::vector<std::string> path;
    if (colour[service] == 0 && find_cycle(graph, service, colour, path)) {
      // path ends with the service that closed the cycle: print from its first occurrence.
      const auto start = std::find(path.begin(), path.end(), path.back());
      std::string text;
      for (auto it = start; it != path.end(); ++it) {
        text += (text.empty() ? "" : " -> ") + *it;
      }
      return fail(ErrorCode::config, "dependencies: cycle " + text);
    }
  }
  return {};
}

void add_window_keys(medic::config::Schema& schema, CorrelationConfig& config) {
  schema.add_duration("correlation.quiet_period", config.quiet_period, 0ms, 24h,
                      "After a signal clears, its incident resolves when no new firing arrived "
                      "for this long");
  schema.add_duration("correlation.reopen_window", config.reopen_window, 0ms, 7 * 24h,
                      "A fire this soon after its incident resolved reopens the same incident; "
                      "resolved incidents are forgotten after it");
  schema.add_duration("correlation.group_window", config.group_window, 0ms, 24h,
                      "Incidents of one host opened within this of each other are grouped under "
                      "the most fundamental (resource < dependency < service), then earliest, "
                      "one (informative: does not hold back remediation)");
  schema.add_duration("correlation.flap_window", config.flap_window, 1s, 7 * 24h,
                      "Window in which correlation.flap_count openings mark an incident flapping");
  schema.add_integer("correlation.flap_count", config.flap_count, std::uint32_t{1},
                     k_max_flap_count,
                     "An incident opened or reopened more than this many times within "
                     "correlation.flap_window is flapping (remediation stops, escalated)");
  schema.add_integer("correlation.max_open", config.max_open, std::uint32_t{1},
                     std::uint32_t{10'000'000},
                     "Open incidents kept; signals of a new fingerprint beyond it are dropped "
                     "and counted");
}

void add_fleet_keys(medic::config::Schema& schema, CorrelationConfig& config) {
  schema.add_duration("correlation.fleet_window", config.fleet_window, 1s, 24h,
                      "A fingerprint firing on correlation.fleet_min_hosts hosts, or "
                      "correlation.fleet_min_percent % of a host group, within this is one "
                      "fleet incident (members are not remediated on their own)");
  schema.add_integer("correlation.fleet_min_hosts", config.fleet_min_hosts, std::uint32_t{0},
                     std::uint32_t{1'000'000},
                     "Hosts firing the same fingerprint that make a fleet incident (0: off; "
                     "else at least 2)");
  schema.add_integer("correlation.fleet_min_percent", config.fleet_min_percent, std::uint32_t{0},
                     std::uint32_t{100},
                     "Percentage of a host group (of 2 hosts or more) firing the same fingerprint "
                     "that makes a fleet incident (0: off)");
  schema.add_string("correlation.group_label", config.group_label,
                    "The agent label (from its HELLO) naming its host group for "
                    "correlation.fleet_min_percent; empty: no percentage rule");
}

} // namespace

void add_correlation_keys(medic::config::Schema& schema, CorrelationConfig& config) {
  add_window_keys(schema, config);
  add_fleet_keys(schema, config);
  schema.add_records("dependencies", dependency_fields(),
                     "Dependency map: {service: api, depends_on: [postgres, redis]}. An open "
                     "incident of postgres (any host) is the root of api's incidents, which are "
                     "linked to it and not remediated on their own",
                     [&config](const std::vector<Record>& records) {
                       return apply_dependencies(records, config);
                     });
}

Result<void> finish_correlation(CorrelationConfig& config) {
  if (config.fleet_min_hosts == 1) {
    return fail(ErrorCode::config,
                "correlation.fleet_min_hosts: 1 would make every incident a fleet incident; use "
                "0 (off) or at least 2");
  }
  return check_acyclic(config.dependencies);
}

} // namespace medic::coordinator::correlate
