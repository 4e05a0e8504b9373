// SPDX-License-Identifier: Apache-2.0
// correlate: a config reload swaps the dependency map and the windows in; the group label
// stays.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/correlate/correlate_support.hpp"

using namespace medic::coordinator::correlate;
using namespace medic::coordinator::correlate::test;

TEST_CASE("correlate reconfigure: a new dependency map links the next incidents",
          "[correlate][reload]") {
  Correlator correlator(no_fleet());
  (void)correlator.on_signal(input(on_service("db-1", "postgres", "db-down")), k_t0);
  const auto before = correlator.on_signal(input(on_service("api-1", "api", "api-5xx")), k_t0);
  CHECK(before.front().incident.link == LinkReason::none);

  CorrelationConfig next = no_fleet();
  next.dependencies = {{"api", {"postgres"}}};
  next.group_label = "team"; // needs a restart: kept
  next.quiet_period = std::chrono::seconds(10);
  REQUIRE(finish_correlation(next));
  correlator.reconfigure(next);
  CHECK(correlator.config().group_label == "group");
  CHECK(correlator.config().quiet_period == std::chrono::seconds(10));
  CHECK(correlator.config().dependencies == next.dependencies);

  const auto after = correlator.on_signal(input(on_service("api-2", "api", "api-5xx")), k_t0 + 1);
  REQUIRE_FALSE(after.empty());
  CHECK(after.front().incident.link == LinkReason::dependency);
  CHECK(correlator.inhibited(after.front().incident));
}
