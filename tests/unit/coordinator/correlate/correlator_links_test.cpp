// SPDX-License-Identifier: Apache-2.0
// Correlator links: same-host groups, the dependency map (both orders, transitive) and fleet
// incidents (by host count and by a host group's percentage), and inhibition.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/correlate/correlate_support.hpp"

using namespace medic::coordinator::correlate;
using namespace medic::coordinator::correlate::test;
namespace protocol = medic::protocol;

namespace {

CorrelationConfig with_dependencies() {
  CorrelationConfig config = no_fleet();
  config.dependencies = {{"api", {"postgres", "redis"}}, {"postgres", {"storage"}}};
  return config;
}

} // namespace

TEST_CASE("correlate: incidents of one host group under the most fundamental one, informatively",
          "[correlate]") {
  Correlator correlator(no_fleet()); // group window 5m
  const auto crash = correlator.on_signal(
      input({.fingerprint = "proc-down", .category = protocol::Category::api}), k_t0);
  const IncidentId service_id = opened_id(crash);
  CHECK(crash.front().incident.link == LinkReason::none);

  // A resource incident a minute later is more fundamental: it becomes the root.
  const auto disk = correlator.on_signal(input({.fingerprint = "disk-full"}), k_t0 + k_minute);
  REQUIRE(kinds(disk) == (std::vector{EventKind::opened, EventKind::linked}));
  const IncidentId disk_id = opened_id(disk);
  CHECK(disk.front().incident.link == LinkReason::none);
  CHECK(disk[1].incident.id == service_id);
  CHECK(disk[1].incident.root_id == disk_id);
  CHECK(disk[1].incident.link == LinkReason::same_host);
  // Same host is informative: the crashed service is still remediated.
  CHECK_FALSE(correlator.inhibited(*correlator.find(service_id)));

  // A later service incident links to the root, the earliest of the resource layer.
  const auto later = correlator.on_signal(
      input({.fingerprint = "slow", .category = protocol::Category::performance}),
      k_t0 + 2 * k_minute);
  CHECK(later.front().incident.root_id == disk_id);
  // A `layer` label overrides the category.
  const auto labelled = correlator.on_signal(
      input({.fingerprint = "custom", .labels = {{"layer", "resource"}}}), k_t0 + 3 * k_minute);
  CHECK(labelled.front().incident.layer == Layer::resource);
  CHECK(labelled.front().incident.root_id == disk_id);

  SECTION("outside the group window, or on another host, no link") {
    CHECK(correlator.on_signal(input({.fingerprint = "cpu"}), k_t0 + 20 * k_minute)
              .front()
              .incident.link == LinkReason::none);
    CHECK(correlator.on_signal(input({.agent = "web-2", .fingerprint = "x"}), k_t0)
              .front()
              .incident.link == LinkReason::none);
  }
}

TEST_CASE("correlate: a dependant opened after its dependency links to it and is inhibited",
          "[correlate]") {
  Correlator correlator(with_dependencies());
  const IncidentId db =
      opened_id(correlator.on_signal(input(on_service("db-1", "postgres", "db-down")), k_t0));
  const auto api = correlator.on_signal(input(on_service("api-1", "api", "api-5xx")), k_t0 + 1);
  REQUIRE(kinds(api) == std::vector{EventKind::opened});
  const Incident& dependant = api.front().incident;
  CHECK(dependant.root_id == db);
  CHECK(dependant.link == LinkReason::dependency);
  CHECK(correlator.inhibited(dependant));
  CHECK_FALSE(correlator.inhibited(*correlator.find(db)));

  // The root resolves: the dependant is released (linked event with no root).
  (void)correlator.on_signal(cleared(on_service("db-1", "postgres", "db-down")), k_t0);
  const auto resolved = correlator.tick(k_t0 + 2 * k_minute);
  REQUIRE(kinds(resolved) == (std::vector{EventKind::resolved, EventKind::linked}));
  CHECK(resolved[1].incident.id == dependant.id);
  CHECK(resolved[1].incident.link == LinkReason::none);
  CHECK(resolved[1].detail == "no longer linked: its root incident resolved");
  CHECK_FALSE(correlator.inhibited(*correlator.find(dependant.id)));
}

TEST_CASE("correlate: a dependency opened after its dependants links the existing ones",
          "[correlate]") {
  Correlator correlator(with_dependencies());
  const IncidentId api1 =
      opened_id(correlator.on_signal(input(on_service("api-1", "api", "api-5xx")), k_t0));
  const IncidentId api2 =
      opened_id(correlator.on_signal(input(on_service("api-2", "api", "api-5xx")), k_t0));
  CHECK_FALSE(correlator.inhibited(*correlator.find(api1)));
  const auto redis =
      correlator.on_signal(input(on_service("cache-1", "redis", "redis-down")), k_t0 + k_second);
  REQUIRE(kinds(redis) == (std::vector{EventKind::opened, EventKind::linked, EventKind::linked}));
  const IncidentId root = opened_id(redis);
  for (const IncidentId id : {api1, api2}) {
    CHECK(correlator.find(id)->root_id == root);
    CHECK(correlator.find(id)->link == LinkReason::dependency);
    CHECK(correlator.inhibited(*correlator.find(id)));
  }
  CHECK(redis[1].detail.find("caused by incident " + std::to_string(root) + " of service redis") !=
        std::string::npos);
}

TEST_CASE("correlate: a transitive chain links to the deepest open dependency", "[correlate]") {
  Correlator correlator(with_dependencies()); // api -> postgres -> storage
  const IncidentId api =
      opened_id(correlator.on_signal(input(on_service("api-1", "api", "api-5xx")), k_t0));
  const IncidentId db =
      opened_id(correlator.on_signal(input(on_service("db-1", "postgres", "db-down")), k_t0 + 1));
  CHECK(correlator.find(api)->root_id == db);
  const auto disk =
      correlator.on_signal(input(on_service("nas-1", "storage", "nas-down")), k_t0 + 2);
  const IncidentId storage = opened_id(disk);
  CHECK(correlator.find(api)->root_id == storage);
  CHECK(correlator.find(db)->root_id == storage);
  CHECK(correlator.inhibited(*correlator.find(db)));

  // The deepest resolves: the api moves to the next open dependency.
  (void)correlator.on_signal(cleared(on_service("nas-1", "storage", "nas-down")), k_t0 + 3);
  (void)correlator.tick(k_t0 + 3 * k_minute);
  CHECK(correlator.find(api)->root_id == db);
  CHECK(correlator.find(api)->link == LinkReason::dependency);
  CHECK(correlator.find(db)->link == LinkReason::none);
  CHECK_FALSE(correlator.inhibited(*correlator.find(db)));
}

TEST_CASE("correlate: the same fingerprint on fleet_min_hosts hosts is one fleet incident",
          "[correlate]") {
  CorrelationConfig config; // 5 hosts within 2m
  config.fleet_min_percent = 0;
  Correlator correlator(config);
  std::vector<IncidentId> members;
  for (int i = 0; i < 4; ++i) {
    const auto events = correlator.on_signal(
        input({.agent = "db-" + std::to_string(i), .fingerprint = "conn"}), k_t0 + i * k_second);
    CHECK_FALSE(has(events, EventKind::fleet_opened));
    members.push_back(opened_id(events));
  }
  const auto fifth =
      correlator.on_signal(input({.agent = "db-4", .fingerprint = "conn"}), k_t0 + 10 * k_second);
  REQUIRE(kinds(fifth) ==
          (std::vector{EventKind::opened, EventKind::fleet_opened, EventKind::fleet_member,
                       EventKind::fleet_member, EventKind::fleet_member, EventKind::fleet_member,
                       EventKind::fleet_member}));
  members.push_back(opened_id(fifth));
  const Incident& fleet = first(fifth, EventKind::fleet_opened).incident;
  CHECK(fleet.kind == IncidentKind::fleet);
  CHECK(fleet.fleet_hosts == 5);
  CHECK(fleet.agent_id.empty());
  CHECK(fleet.first_seen_ms == k_t0);
  for (const IncidentId id : members) {
    CHECK(correlator.find(id)->root_id == fleet.id);
    CHECK(correlator.find(id)->link == LinkReason::fleet);
    CHECK(correlator.inhibited(*correlator.find(id)));
  }
  // A later member links as it comes; a repeat does not join twice.
  const auto sixth =
      correlator.on_signal(input({.agent = "db-5", .fingerprint = "conn"}), k_t0 + k_minute);
  REQUIRE(kinds(sixth) == (std::vector{EventKind::opened, EventKind::fleet_member}));
  CHECK(correlator.find(fleet.id)->fleet_hosts == 6);
  CHECK(kinds(correlator.on_signal(input({.agent = "db-5", .fingerprint = "conn"}),
                                   k_t0 + k_minute)) == std::vector{EventKind::folded});

  // The fleet incident resolves with its last member.
  for (int i = 0; i < 6; ++i) {
    (void)correlator.on_signal(cleared({.agent = "db-" + std::to_string(i), .fingerprint = "conn"}),
                               k_t0 + 2 * k_minute);
  }
  const auto resolved = correlator.tick(k_t0 + 5 * k_minute);
  CHECK(kinds(resolved).size() == 7);
  CHECK(resolved.back().incident.id == fleet.id);
  CHECK(resolved.back().incident.state == IncidentState::resolved);
  CHECK(correlator.open_count() == 0);
}

TEST_CASE("correlate: hosts firing outside the fleet window do not make a fleet", "[correlate]") {
  CorrelationConfig config;
  config.fleet_min_percent = 0;
  Correlator correlator(config);
  for (int i = 0; i < 8; ++i) {
    CHECK_FALSE(
        has(correlator.on_signal(input({.agent = "db-" + std::to_string(i), .fingerprint = "conn"}),
                                 k_t0 + i * k_minute),
            EventKind::fleet_opened));
    (void)correlator.tick(k_t0 + i * k_minute);
  }
}

TEST_CASE("correlate: fleet_min_percent of a host group makes a fleet incident", "[correlate]") {
  CorrelationConfig config; // 50 % of the group, 5 hosts overall
  Correlator correlator(config);
  std::vector<KnownAgent> agents;
  for (int i = 0; i < 6; ++i) {
    agents.push_back({"web-" + std::to_string(i), "web-" + std::to_string(i), {{"group", "web"}}});
  }
  agents.push_back({"lone-1", "lone-1", {{"group", "lone"}}});
  correlator.set_agents(agents);
  const auto fire = [&](const std::string& agent) {
    return correlator.on_signal(
        input({.agent = agent, .fingerprint = "5xx", .agent_labels = {{"group", "web"}}}), k_t0);
  };
  CHECK_FALSE(has(fire("web-0"), EventKind::fleet_opened));
  CHECK_FALSE(has(fire("web-1"), EventKind::fleet_opened)); // 2 of 6
  const auto third = fire("web-2");                         // 3 of 6 = 50 %
  REQUIRE(has(third, EventKind::fleet_opened));
  CHECK(first(third, EventKind::fleet_opened).incident.fleet_hosts == 3);
  CHECK(first(third, EventKind::fleet_opened).detail.find("3 of the 6 hosts of group web") !=
        std::string::npos);

  SECTION("a one-host group never makes a fleet on its own") {
    CHECK_FALSE(has(
        correlator.on_signal(
            input({.agent = "lone-1", .fingerprint = "other", .agent_labels = {{"group", "lone"}}}),
            k_t0),
        EventKind::fleet_opened));
  }
}

TEST_CASE("correlate: a restored fleet incident keeps its members and resolves with the last",
          "[correlate]") {
  CorrelationConfig config;
  config.fleet_min_hosts = 2;
  config.fleet_min_percent = 0;
  Correlator before(config);
  (void)before.on_signal(input({.agent = "a", .fingerprint = "conn"}), k_t0);
  const auto second = before.on_signal(input({.agent = "b", .fingerprint = "conn"}), k_t0);
  const IncidentId fleet = first(second, EventKind::fleet_opened).incident.id;

  Correlator after(config);
  after.restore(before.open_incidents(), before.next_id());
  CHECK(after.open_count() == 3);
  CHECK(after.tick(k_t0 + 1).empty()); // members open: the fleet stays
  for (const auto& incident : after.open_incidents()) {
    CHECK(after.inhibited(incident) == (incident.kind == IncidentKind::host));
  }
  (void)after.on_signal(cleared({.agent = "a", .fingerprint = "conn"}), k_t0);
  (void)after.on_signal(cleared({.agent = "b", .fingerprint = "conn"}), k_t0);
  const auto resolved = after.tick(k_t0 + 3 * k_minute);
  REQUIRE(kinds(resolved).size() == 3);
  CHECK(resolved.back().incident.id == fleet);
  CHECK(resolved.back().detail == "resolved: every member host incident resolved");
}
