// SPDX-License-Identifier: Apache-2.0
// plan: ranking by learned success and risk, catalog filtering, risk overrides only upward,
// tried actions skipped.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/plan/plan_fixture.hpp"

using namespace medic::test::plan_fixture;
using plan::Verdict;

TEST_CASE("plan ranking: higher learned success ranks first", "[plan]") {
  Fixture f;
  f.learn_outcomes("clear-cache", 8, 0);     // Beta(9, 1): 0.9
  f.learn_outcomes("restart-service", 1, 4); // Beta(2, 5): 0.29
  const auto c = f.context({candidate("restart-service"), candidate("clear-cache")});
  const auto d = f.planner->decide(c, k_t0);
  REQUIRE(d.ranking.size() == 2);
  CHECK(d.ranking[0].candidate.action == "clear-cache");
  CHECK(d.ranking[0].posterior_mean == Approx(0.9));
  CHECK(d.ranking[0].score == Approx(0.9 - 0.05));
  CHECK(d.ranking[1].posterior_mean == Approx(2.0 / 7.0));
  CHECK(contains(d.ranking[0].why, "8 of 8 verified"));
  CHECK(d.verdict == Verdict::run);
  CHECK(d.chosen->candidate.action == "clear-cache");
}

TEST_CASE("plan ranking: with equal success the lower risk wins", "[plan]") {
  Fixture f;
  const auto c = f.context({candidate("failover-db", 0.7), candidate("restart-service", 0.7)});
  const auto d = f.planner->decide(c, k_t0);
  REQUIRE(d.ranking.size() == 2);
  CHECK(d.ranking[0].candidate.action == "restart-service");
  CHECK(d.ranking[0].risk == "low");
  CHECK(d.ranking[1].risk == "high");
  CHECK(d.ranking[1].score == Approx(0.7 - 0.15));
}

TEST_CASE("plan ranking: the prior counts until outcomes are learned", "[plan]") {
  Fixture f;
  const auto c = f.context({candidate("restart-service", 0.6), candidate("clear-cache", 0.95)});
  const auto d = f.planner->decide(c, k_t0);
  CHECK(d.ranking[0].candidate.action == "clear-cache");
  CHECK(d.ranking[0].posterior_mean == Approx(0.95));
}

TEST_CASE("plan ranking: actions missing from the agent's catalog are dropped", "[plan]") {
  Fixture f;
  const auto c = f.context({candidate("not-there"), candidate("restart-service")});
  const auto d = f.planner->decide(c, k_t0);
  REQUIRE(d.ranking.size() == 1);
  REQUIRE(d.dropped.size() == 1);
  CHECK(d.dropped[0].action == "not-there");
  CHECK(d.dropped[0].reason == "not in the agent's catalog");
}

TEST_CASE("plan ranking: no catalog at all drops everything and escalates", "[plan]") {
  Fixture f;
  auto c = f.context({candidate("restart-service")});
  c.catalog = nullptr;
  const auto d = f.planner->decide(c, k_t0);
  CHECK(d.verdict == Verdict::escalate);
  CHECK(contains(d.reason, "not in the agent's catalog"));
}

TEST_CASE("plan ranking: a rule may raise an action's risk, never lower it", "[plan]") {
  Fixture f;
  const auto c =
      f.context({candidate("restart-service", 0.5, "high"), candidate("failover-db", 0.5, "low")});
  const auto d = f.planner->decide(c, k_t0);
  REQUIRE(d.ranking.size() == 2);
  for (const auto& r : d.ranking) {
    CHECK(r.risk == "high"); // restart raised from low; failover stays high
  }
  const auto& failover =
      d.ranking[0].candidate.action == "failover-db" ? d.ranking[0] : d.ranking[1];
  CHECK(contains(failover.why, "lower 'low' is ignored"));
}

TEST_CASE("plan ranking: an unknown declared risk counts as critical", "[plan]") {
  Fixture f;
  f.catalog.push_back(action("odd", "whatever"));
  const auto d = f.planner->decide(f.context({candidate("odd")}), k_t0);
  REQUIRE(d.ranking.size() == 1);
  CHECK(d.ranking[0].risk == "critical");
  CHECK(d.verdict == Verdict::await_approval);
}

TEST_CASE("plan ranking: actions already tried on the incident are skipped", "[plan]") {
  Fixture f;
  auto c = f.context({candidate("restart-service", 0.9), candidate("clear-cache", 0.5)});
  c.tried_actions = {"restart-service"};
  c.attempts_so_far = 1;
  const auto d = f.planner->decide(c, k_t0);
  REQUIRE(d.ranking.size() == 1);
  CHECK(d.chosen->candidate.action == "clear-cache");
  CHECK(d.dropped[0].reason == "already tried on this incident");
  c.tried_actions.push_back("clear-cache");
  c.attempts_so_far = 2;
  const auto none = f.planner->decide(c, k_t0);
  CHECK(none.verdict == Verdict::escalate);
  CHECK(contains(none.reason, "no candidate"));
}

TEST_CASE("plan ranking: a candidate listed twice counts once", "[plan]") {
  Fixture f;
  const auto d = f.planner->decide(
      f.context({candidate("restart-service"), candidate("restart-service")}), k_t0);
  CHECK(d.ranking.size() == 1);
  REQUIRE(d.dropped.size() == 1);
  CHECK(d.dropped[0].reason == "listed twice by the rule");
}
