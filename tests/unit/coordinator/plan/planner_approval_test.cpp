// SPDX-License-Identifier: Apache-2.0
// plan: approvals (approve, deny, expire, bounded) and earned autonomy (promotion after enough
// verified successes, demotion after failures, every change a sentence for the audit).
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/plan/plan_fixture.hpp"

using namespace medic::test::plan_fixture;
using plan::ApprovalState;
using plan::Verdict;

namespace {

plan::PlanContext approve_context(const Fixture& f, std::uint64_t id = 1) {
  return f.context({candidate("restart-service"), candidate("clear-cache")},
                   diagnose::Automation::approve, id);
}

} // namespace

TEST_CASE("plan approvals: approve lets the action run", "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  const auto d = f.planner->decide(c, k_t0);
  REQUIRE(d.verdict == Verdict::await_approval);
  const auto approval = f.planner->request_approval(c, d, k_t0);
  REQUIRE(approval);
  CHECK(approval->state == ApprovalState::pending);
  CHECK(approval->expires_ms == k_t0 + 15 * k_minute);
  CHECK(approval->action == "restart-service");
  CHECK(f.planner->pending().size() == 1);
  // Asking again returns the same pending approval, and decide says it waits on it.
  CHECK(f.planner->request_approval(c, f.planner->decide(c, k_t0), k_t0)->id == approval->id);
  CHECK(f.planner->decide(c, k_t0).approval == approval->id);

  const auto approved = f.planner->approve(approval->id, "alice", k_t0 + k_minute);
  REQUIRE(approved);
  CHECK(approved->decided_by == "alice");
  const auto run = f.planner->decide(c, k_t0 + k_minute);
  CHECK(run.verdict == Verdict::run);
  CHECK(contains(run.reason, "approved by alice"));
  f.planner->started(plan::recovery_key(c, *run.chosen), k_t0 + k_minute);
  CHECK(f.planner->pending().empty());
  // A decided approval cannot be decided again.
  const auto again = f.planner->deny(approval->id, "bob", k_t0 + 2 * k_minute);
  REQUIRE_FALSE(again);
  CHECK(contains(again.error().message(), "already used"));
}

TEST_CASE("plan approvals: deny drops the action, the next candidate is proposed", "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  const auto approval = f.planner->request_approval(c, f.planner->decide(c, k_t0), k_t0);
  REQUIRE(approval);
  REQUIRE(f.planner->deny(approval->id, "bob", k_t0 + 1000));
  const auto d = f.planner->decide(c, k_t0 + 1000);
  CHECK(d.verdict == Verdict::await_approval);
  CHECK(d.chosen->candidate.action == "clear-cache");
  REQUIRE(d.dropped.size() == 1);
  CHECK(contains(d.dropped[0].reason, "denied (by bob)"));
}

TEST_CASE("plan approvals: an approval not given in time expires once", "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  const auto approval = f.planner->request_approval(c, f.planner->decide(c, k_t0), k_t0);
  REQUIRE(approval);
  CHECK(f.planner->expired(k_t0 + 15 * k_minute - 1).empty());
  const auto expired = f.planner->expired(k_t0 + 15 * k_minute);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].state == ApprovalState::expired);
  CHECK(expired[0].decided_by == "timeout");
  CHECK(f.planner->expired(k_t0 + 16 * k_minute).empty());
  const auto late = f.planner->approve(approval->id, "alice", k_t0 + 16 * k_minute);
  REQUIRE_FALSE(late);
  CHECK(contains(late.error().message(), "expired"));
  CHECK_FALSE(f.planner->approve(999, "alice", k_t0));
}

TEST_CASE("plan approvals: approving after the deadline fails, the expiry still reports it",
          "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  const auto approval = f.planner->request_approval(c, f.planner->decide(c, k_t0), k_t0);
  REQUIRE(approval);
  const auto late = f.planner->approve(approval->id, "alice", k_t0 + 20 * k_minute);
  REQUIRE_FALSE(late);
  CHECK(contains(late.error().message(), "timed out"));
  CHECK(f.planner->expired(k_t0 + 20 * k_minute).size() == 1);
  CHECK(f.planner->pending().empty());
}

TEST_CASE("plan approvals: the action waiting for approval stays the choice", "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  const auto first = f.planner->decide(c, k_t0);
  REQUIRE(first.chosen->candidate.action == "restart-service");
  REQUIRE(f.planner->request_approval(c, first, k_t0));
  f.learn_outcomes("clear-cache", 50, 0); // clear-cache now ranks first
  const auto again = f.planner->decide(c, k_t0 + 1000);
  CHECK(again.ranking[0].candidate.action == "clear-cache");
  CHECK(again.chosen->candidate.action == "restart-service");
  CHECK(again.verdict == Verdict::await_approval);
  CHECK(f.planner->pending().size() == 1);
}

TEST_CASE("plan approvals: pending approvals are bounded", "[plan]") {
  Fixture f;
  f.config.max_pending_approvals = 2;
  f.rebuild();
  for (std::uint64_t id = 1; id <= 2; ++id) {
    const auto c = approve_context(f, id);
    REQUIRE(f.planner->request_approval(c, f.planner->decide(c, k_t0), k_t0));
  }
  const auto c = approve_context(f, 3);
  const auto refused = f.planner->request_approval(c, f.planner->decide(c, k_t0), k_t0);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == medic::ErrorCode::busy);
  // Only a decision that awaits approval files one.
  const auto auto_c = f.context({candidate("restart-service")}, diagnose::Automation::auto_, 9);
  CHECK_FALSE(f.planner->request_approval(auto_c, f.planner->decide(auto_c, k_t0), k_t0));
}

TEST_CASE("plan autonomy: promotion after enough verified successes", "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  REQUIRE(f.planner->decide(c, k_t0).verdict == Verdict::await_approval); // eligible now
  // Prior 0.5 x 2; ten successes give a lower bound of about 0.79: not yet.
  f.learn_outcomes("restart-service", 10, 0);
  CHECK(f.planner->review_autonomy(k_t0).empty());
  f.learn_outcomes("restart-service", 20, 0); // 30 of 30: bound about 0.92
  const auto changes = f.planner->review_autonomy(k_t0 + 1);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].move == plan::AutonomyMove::promoted);
  CHECK(changes[0].attempts == 30);
  CHECK(changes[0].lower_bound >= 0.9);
  CHECK(contains(changes[0].sentence, "now runs without approval"));
  CHECK(f.planner->review_autonomy(k_t0 + 2).empty()); // reported once
  const auto d = f.planner->decide(c, k_t0 + 3);
  CHECK(d.verdict == Verdict::run);
  CHECK(d.earned_autonomy);
  CHECK(contains(d.reason, "earned autonomy"));
}

TEST_CASE("plan autonomy: promote_after counts attempts even with a strong prior", "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  (void)f.planner->decide(c, k_t0);
  f.learn_outcomes("restart-service", 9, 0, 0.99);
  CHECK(f.planner->review_autonomy(k_t0).empty()); // 9 < plan.promote_after 10
  f.learn_outcomes("restart-service", 1, 0, 0.99);
  CHECK(f.planner->review_autonomy(k_t0).size() == 1);
}

TEST_CASE("plan autonomy: demotion after failures in a row, audited", "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  (void)f.planner->decide(c, k_t0);
  f.learn_outcomes("restart-service", 60, 0);
  REQUIRE(f.planner->review_autonomy(k_t0).size() == 1);
  f.learn_outcomes("restart-service", 0, 1);
  CHECK(f.planner->review_autonomy(k_t0).empty()); // one failure: still promoted
  CHECK(f.planner->decide(c, k_t0).verdict == Verdict::run);
  f.learn_outcomes("restart-service", 0, 1);
  // Already held back before the review reports it.
  CHECK(f.planner->decide(c, k_t0).verdict == Verdict::await_approval);
  const auto changes = f.planner->review_autonomy(k_t0 + 5);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].move == plan::AutonomyMove::demoted);
  CHECK(contains(changes[0].sentence, "2 failure(s) in a row"));
  // A success alone does not win it back: plan.promote_after new attempts are needed.
  f.learn_outcomes("restart-service", 1, 0);
  CHECK(f.planner->review_autonomy(k_t0 + 6).empty());
  f.learn_outcomes("restart-service", 9, 0);
  CHECK(f.planner->review_autonomy(k_t0 + 7).size() == 1);
}

TEST_CASE("plan autonomy: demotion when the lower bound falls under demote_success", "[plan]") {
  Fixture f;
  const auto c = approve_context(f);
  (void)f.planner->decide(c, k_t0);
  f.learn_outcomes("restart-service", 30, 0);
  REQUIRE(f.planner->review_autonomy(k_t0).size() == 1);
  learn::Outcome o;
  o.diagnosis = "crashed-service";
  o.action = "restart-service";
  for (int i = 0; i < 40; ++i) { // alternate, never two failures in a row
    o.success = i % 2 == 0;
    f.learner.record_outcome(o, k_t0 + i);
  }
  const auto changes = f.planner->review_autonomy(k_t0 + 10);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].move == plan::AutonomyMove::demoted);
  CHECK(changes[0].lower_bound < 0.7);
}

TEST_CASE("plan autonomy: off by policy, and never for auto or observe rules", "[plan]") {
  Fixture f;
  (void)f.planner->decide(f.context({candidate("clear-cache")}), k_t0); // auto rule
  f.learn_outcomes("clear-cache", 60, 0);
  CHECK(f.planner->review_autonomy(k_t0).empty());
  f.config.earned_autonomy = false;
  f.rebuild();
  const auto c = approve_context(f);
  (void)f.planner->decide(c, k_t0);
  f.learn_outcomes("restart-service", 60, 0);
  CHECK(f.planner->review_autonomy(k_t0).empty());
  CHECK(f.planner->decide(c, k_t0).verdict == Verdict::await_approval);
}

TEST_CASE("plan autonomy: a promoted action still respects plan.max_auto_risk", "[plan]") {
  Fixture f;
  const auto c = f.context({candidate("failover-db")}, diagnose::Automation::approve);
  (void)f.planner->decide(c, k_t0);
  f.learn_outcomes("failover-db", 60, 0);
  REQUIRE(f.planner->review_autonomy(k_t0).size() == 1);
  const auto d = f.planner->decide(c, k_t0);
  CHECK(d.verdict == Verdict::await_approval);
  CHECK(contains(d.reason, "plan.max_auto_risk"));
}
