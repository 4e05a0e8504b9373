// SPDX-License-Identifier: Apache-2.0
// plan: a config reload changes the limits and the automation ceiling from the next decision,
// and keeps what the books were built with.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/plan/plan_fixture.hpp"

using namespace medic::test::plan_fixture;
using plan::Verdict;

TEST_CASE("plan reconfigure: max_attempts and max_auto_risk apply to the next decision",
          "[plan][reload]") {
  Fixture f;
  auto c = f.context({candidate("clear-cache")});
  c.attempts_so_far = 2;
  REQUIRE(f.planner->decide(c, k_t0).verdict == Verdict::run); // medium <= medium, 2 < 3

  plan::PlanConfig next = f.config;
  next.max_attempts = 2;
  next.max_auto_risk = "low";
  REQUIRE(plan::finish_plan(next));
  f.planner->reconfigure(next);
  const auto escalated = f.planner->decide(c, k_t0);
  CHECK(escalated.verdict != Verdict::run);
  CHECK(contains(escalated.reason, "2"));

  c.attempts_so_far = 0;
  const auto waits = f.planner->decide(c, k_t0);
  CHECK(waits.verdict == Verdict::await_approval);
  CHECK(contains(waits.reason, "low"));
}

TEST_CASE("plan reconfigure: the limits see the new plan.max_per_host", "[plan][reload]") {
  Fixture f;
  const auto first = f.context({candidate("restart-service")}, diagnose::Automation::auto_, 1);
  const auto d = f.planner->decide(first, k_t0);
  REQUIRE(d.verdict == Verdict::run);
  f.planner->started(plan::recovery_key(first, *d.chosen), k_t0);
  const auto second = f.context({candidate("clear-cache")}, diagnose::Automation::auto_, 2);
  REQUIRE(f.planner->decide(second, k_t0).verdict == Verdict::held);

  plan::PlanConfig next = f.config;
  next.max_per_host = 2;
  next.max_tracked = 1; // needs a restart: kept
  REQUIRE(plan::finish_plan(next));
  f.planner->reconfigure(next);
  CHECK(f.planner->decide(second, k_t0).verdict == Verdict::run);
}
