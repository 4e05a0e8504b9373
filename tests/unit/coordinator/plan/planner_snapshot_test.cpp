// SPDX-License-Identifier: Apache-2.0
// plan: the planner's state (approvals, earned autonomy, cooldowns, daily starts) survives a
// snapshot/restore, and the decided-approval history is bounded.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/plan/plan_fixture.hpp"

using namespace medic::test::plan_fixture;
using plan::Verdict;

TEST_CASE("plan snapshot: approvals, autonomy and cooldowns round-trip", "[plan]") {
  Fixture f;
  // A pending approval on incident 1.
  const auto waiting = f.context({candidate("failover-db")}, diagnose::Automation::auto_, 1);
  const auto approval =
      f.planner->request_approval(waiting, f.planner->decide(waiting, k_t0), k_t0);
  REQUIRE(approval);
  // A promoted pair.
  const auto earned =
      f.context({candidate("clear-cache")}, diagnose::Automation::approve, 2, "web-2");
  (void)f.planner->decide(earned, k_t0);
  f.learn_outcomes("clear-cache", 60, 0);
  REQUIRE(f.planner->review_autonomy(k_t0).size() == 1);
  // A cooldown on incident 3's target.
  const auto cooled =
      f.context({candidate("restart-service")}, diagnose::Automation::auto_, 3, "web-3");
  f.run(cooled, f.planner->decide(cooled, k_t0), false, k_t0, k_t0 + 1000);

  const auto snapshot = f.planner->snapshot();
  CHECK(snapshot.approvals.size() == 1);
  CHECK(snapshot.autonomy.size() == 1);
  REQUIRE(snapshot.cooldowns.size() == 1);
  CHECK(snapshot.cooldowns[0].host == "web-3");
  CHECK(snapshot.cooldowns[0].target == "fp-3");
  CHECK(snapshot.cooldowns[0].action == "restart-service");
  REQUIRE(snapshot.starts.size() == 1);

  plan::Planner restored(f.config, f.learner);
  REQUIRE(restored.restore(snapshot));
  CHECK(restored.snapshot() == snapshot);
  CHECK(restored.decide(waiting, k_t0 + 1000).approval == approval->id);
  CHECK(restored.decide(earned, k_t0 + 1000).verdict == Verdict::run);
  const auto held = restored.decide(cooled, k_t0 + 2000);
  CHECK(held.verdict == Verdict::held);
  CHECK(contains(held.reason, "cooling down"));
  // New approvals continue after the restored ids.
  const auto other = f.context({candidate("failover-db")}, diagnose::Automation::auto_, 4, "web-4");
  const auto next = restored.request_approval(other, restored.decide(other, k_t0), k_t0);
  REQUIRE(next);
  CHECK(next->id == approval->id + 1);
}

TEST_CASE("plan snapshot: repeated approval ids are refused", "[plan]") {
  Fixture f;
  plan::PlannerSnapshot snapshot;
  snapshot.approvals.resize(2);
  snapshot.approvals[0].id = 5;
  snapshot.approvals[1].id = 5;
  const auto result = f.planner->restore(snapshot);
  REQUIRE_FALSE(result);
  CHECK(contains(result.error().message(), "approvals[1] has id 5"));
}

TEST_CASE("plan approvals: the decided history is bounded", "[plan]") {
  Fixture f;
  for (std::uint64_t id = 1; id <= 1100; ++id) {
    const auto c = f.context({candidate("failover-db")}, diagnose::Automation::auto_, id);
    const auto approval = f.planner->request_approval(c, f.planner->decide(c, k_t0), k_t0);
    REQUIRE(approval);
    REQUIRE(f.planner->deny(approval->id, "bob", k_t0));
  }
  CHECK(f.planner->snapshot().approvals.size() == plan::ApprovalBook::k_max_decided);
  CHECK(f.planner->snapshot().approvals.front().id == 1100 - 1024 + 1);
}
