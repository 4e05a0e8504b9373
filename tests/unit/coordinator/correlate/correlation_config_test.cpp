// SPDX-License-Identifier: Apache-2.0
// correlation.* and dependencies keys: defaults, values, and the errors of a bad map.
#include <catch2/catch.hpp>

#include "coordinator/correlate/correlation_config.hpp"
#include "coordinator/correlate/dependency_graph.hpp"

using namespace medic::coordinator::correlate;
using namespace std::chrono_literals;

namespace {

medic::Result<CorrelationConfig> load(std::string_view yaml) {
  CorrelationConfig config;
  medic::config::Schema schema("MEDIC_COORDINATOR_");
  add_correlation_keys(schema, config);
  if (auto loaded = schema.load_text(yaml, "coordinator.yaml"); !loaded) {
    return medic::fail(std::move(loaded).error());
  }
  if (auto finished = finish_correlation(config); !finished) {
    return medic::fail(std::move(finished).error());
  }
  return config;
}

} // namespace

TEST_CASE("correlate config: defaults and values", "[correlate]") {
  const auto defaults = load("{}");
  REQUIRE(defaults);
  CHECK(defaults->quiet_period == 2min);
  CHECK(defaults->reopen_window == 1h);
  CHECK(defaults->group_window == 5min);
  CHECK(defaults->fleet_window == 2min);
  CHECK(defaults->fleet_min_hosts == 5);
  CHECK(defaults->fleet_min_percent == 50);
  CHECK(defaults->group_label == "group");
  CHECK(defaults->flap_count == 3);
  CHECK(defaults->max_open == 10'000);

  const auto set = load(R"(
correlation:
  quiet_period: 30s
  fleet_min_hosts: 20
  group_label: pool
dependencies:
  - {service: api, depends_on: [redis, postgres, redis]}
  - {service: postgres, depends_on: [storage]}
)");
  REQUIRE(set);
  CHECK(set->quiet_period == 30s);
  CHECK(set->fleet_min_hosts == 20);
  CHECK(set->group_label == "pool");
  REQUIRE(set->dependencies.size() == 2);
  CHECK(set->dependencies[0] == Dependency{"api", {"postgres", "redis"}});

  const DependencyGraph graph(set->dependencies);
  const auto& down = graph.dependencies_of("api");
  REQUIRE(down.size() == 3);
  CHECK(down[0].service == "storage");
  CHECK(down[0].depth == 2);
  CHECK(graph.dependants_of("storage") == std::vector<std::string>{"api", "postgres"});
  CHECK(graph.dependencies_of("nothing").empty());
}

TEST_CASE("correlate config: a bad dependency map is an error that says where", "[correlate]") {
  const auto cycle = load(R"(
dependencies:
  - {service: api, depends_on: [db]}
  - {service: db, depends_on: [api]}
)");
  REQUIRE_FALSE(cycle);
  CHECK(cycle.error().message() == "dependencies: cycle api -> db -> api");

  const auto self = load("dependencies: [{service: api, depends_on: [api]}]");
  REQUIRE_FALSE(self);
  CHECK(self.error().message().find("depends on itself") != std::string::npos);

  const auto twice = load(R"(
dependencies:
  - {service: api, depends_on: [db]}
  - {service: api, depends_on: [redis]}
)");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message().find("listed twice") != std::string::npos);

  const auto unknown = load("dependencies: [{service: api, needs: [db]}]");
  REQUIRE_FALSE(unknown);

  const auto one_host = load("correlation: {fleet_min_hosts: 1}");
  REQUIRE_FALSE(one_host);
  CHECK(one_host.error().message().find("fleet_min_hosts") != std::string::npos);

  CHECK_FALSE(load("correlation: {fleet_min_percent: 101}"));
}
