// SPDX-License-Identifier: Apache-2.0
// plan: RecoveryFlow, the recovery decisions the engine and the backtest replay share:
// verification of a RESULT, the opening checks (flapping), one decision and what follows it
// (dispatch, approval, hold, escalation), the attempt, the outcome learned, the retry schedule.
#include <catch2/catch.hpp>

#include <unordered_map>

#include "coordinator/plan/recovery_flow.hpp"
#include "tests/unit/coordinator/plan/plan_fixture.hpp"

using namespace medic::test::plan_fixture;
using medic::protocol::ResultStatus;
using plan::NextStep;
using plan::Opening;
namespace correlate = medic::coordinator::correlate;

namespace {

// The flow over the fixture's planner and learner, and an incident state with a diagnosis.
struct FlowFixture : Fixture {
  plan::RecoveryFlow flow{*planner, learner};
  plan::RecoveryState state;
  correlate::Incident incident;

  FlowFixture() {
    incident.id = 1;
    incident.host = "web-1";
    incident.fingerprint = "fp-1";
    state.diagnosis = context({candidate("restart-service")}).diagnosis;
  }
};

} // namespace

TEST_CASE("recovery flow: a RESULT is a success only when it and its post-condition held",
          "[plan][recovery]") {
  CHECK(plan::verify(ResultStatus::succeeded, "").success);
  CHECK(plan::verify(ResultStatus::succeeded, "passed").success);
  CHECK_FALSE(plan::verify(ResultStatus::succeeded, "failed").success);
  CHECK_FALSE(plan::verify(ResultStatus::failed, "").success);
  CHECK_FALSE(plan::verify(ResultStatus::timed_out, "").success);
  // Verified outcomes teach; refusals, dry runs and a person's turn do not.
  CHECK(plan::verify(ResultStatus::succeeded, "failed").teaches);
  CHECK(plan::verify(ResultStatus::failed, "").teaches);
  CHECK(plan::verify(ResultStatus::timed_out, "").teaches);
  for (const auto status : {ResultStatus::rejected, ResultStatus::expired, ResultStatus::duplicate,
                            ResultStatus::dry_run, ResultStatus::needs_person}) {
    CHECK_FALSE(plan::verify(status, "").teaches);
    CHECK_FALSE(plan::verify(status, "").success);
  }
}

TEST_CASE("recovery flow: the context has the incident's state and the fleet guard",
          "[plan][recovery]") {
  FlowFixture f;
  correlate::Correlator correlator{correlate::CorrelationConfig{}};
  f.state.attempts = 2;
  f.state.tried = {"restart-service", "clear-cache"};
  f.incident.link = correlate::LinkReason::fleet;
  f.incident.root_id = 77; // not open: nothing inhibits it
  const auto context = plan::RecoveryFlow::context(f.incident, f.state, correlator);
  CHECK(context.incident.id == 1);
  CHECK(context.diagnosis.root_cause == "crashed-service");
  CHECK(context.fleet_member);
  CHECK_FALSE(context.inhibited);
  CHECK(context.attempts_so_far == 2);
  CHECK(context.tried_actions == std::vector<std::string>{"restart-service", "clear-cache"});
  CHECK(context.catalog == nullptr); // the caller's to add
  CHECK_FALSE(context.agent_connected);
}

TEST_CASE(
    "recovery flow: nothing is planned undiagnosed, in flight or closed, a flapping "
    "incident gives up once",
    "[plan][recovery]") {
  FlowFixture f;
  plan::RecoveryState undiagnosed;
  CHECK(f.flow.open(f.incident, undiagnosed, false) == Opening::not_now);
  CHECK(f.flow.open(f.incident, f.state, true) == Opening::not_now);
  f.incident.state = correlate::IncidentState::resolved;
  CHECK(f.flow.open(f.incident, f.state, false) == Opening::not_now);
  f.incident.state = correlate::IncidentState::open;

  // Opening unschedules: a planned incident is not planned again later as well.
  f.flow.schedule(f.incident.id, f.state, k_t0 + 1000);
  CHECK(f.flow.next_due_ms() == k_t0 + 1000);
  CHECK(f.flow.open(f.incident, f.state, false) == Opening::plan);
  CHECK(f.state.retry_at_ms == 0);
  CHECK(f.flow.nothing_due());

  f.incident.flapping = true;
  CHECK(f.flow.open(f.incident, f.state, false) == Opening::flapping_gave_up);
  CHECK(f.state.gave_up);
  CHECK(f.flow.open(f.incident, f.state, false) == Opening::flapping);
}

TEST_CASE("recovery flow: run, dispatch and a verified success learned", "[plan][recovery]") {
  FlowFixture f;
  const auto context = f.context({candidate("restart-service")});
  const auto planned = f.flow.decide(context, f.state, k_t0);
  REQUIRE(planned.next == NextStep::dispatch);
  REQUIRE(planned.decision.chosen);
  CHECK(planned.newly_said);
  CHECK(planned.said == "run: " + planned.decision.reason);
  CHECK(f.state.last_decision == planned.said);

  const auto sent = f.flow.started(f.incident, f.state, *planned.decision.chosen, k_t0);
  CHECK(sent.key == plan::RecoveryKey{1, "web-1", "restart-service", "fp-1"});
  CHECK(sent.diagnosis_key == "crashed-service");
  CHECK(sent.risk == "low");
  CHECK(sent.sent_ms == k_t0);
  CHECK(f.state.attempts == 1);
  CHECK(f.state.tried == std::vector<std::string>{"restart-service"});
  CHECK(f.planner->running() == 1);

  const auto changes = f.flow.finished(f.state, sent, true, true, k_t0 + 4000);
  CHECK(changes.empty());
  CHECK(f.planner->running() == 0);
  CHECK(f.state.failed == 0);
  const auto* posterior = f.learner.find_posterior("crashed-service", "restart-service");
  REQUIRE(posterior != nullptr);
  CHECK(posterior->attempts == 1);
  CHECK(posterior->successes == 1);
}

TEST_CASE("recovery flow: a failure counts, and an outcome that does not teach is not learned",
          "[plan][recovery]") {
  FlowFixture f;
  const auto planned = f.flow.decide(f.context({candidate("restart-service")}), f.state, k_t0);
  REQUIRE(planned.decision.chosen);
  const auto sent = f.flow.started(f.incident, f.state, *planned.decision.chosen, k_t0);
  (void)f.flow.finished(f.state, sent, false, false, k_t0 + 1000);
  CHECK(f.state.failed == 1);
  CHECK(f.planner->running() == 0);
  CHECK(f.learner.find_posterior("crashed-service", "restart-service") == nullptr);

  // A manual run (no diagnosis key) feeds the limits only.
  auto manual = sent;
  manual.diagnosis_key.clear();
  (void)f.flow.finished(f.state, manual, false, true, k_t0 + 2000);
  CHECK(f.state.failed == 2);
  CHECK(f.learner.find_posterior("crashed-service", "restart-service") == nullptr);
}

TEST_CASE("recovery flow: a repeated decision is said once, a hold is scheduled and comes due",
          "[plan][recovery]") {
  FlowFixture f;
  // Another recovery on the host holds this one (plan.max_per_host 1), with no known end.
  const auto other = f.context({candidate("clear-cache")}, diagnose::Automation::auto_, 2);
  const auto first = f.planner->decide(other, k_t0);
  REQUIRE(first.chosen);
  f.planner->started(plan::recovery_key(other, *first.chosen), k_t0);

  const auto context = f.context({candidate("restart-service")});
  const auto held = f.flow.decide(context, f.state, k_t0);
  CHECK(held.next == NextStep::held);
  CHECK(held.newly_said);
  CHECK(f.state.retry_at_ms == k_t0 + plan::k_held_retry_ms);
  CHECK(f.flow.next_due_ms() == k_t0 + plan::k_held_retry_ms);

  std::unordered_map<correlate::IncidentId, plan::RecoveryState> work{{1, f.state}};
  CHECK(f.flow.take_due(k_t0 + plan::k_held_retry_ms - 1, work).empty());
  const auto again = f.flow.decide(context, work[1], k_t0 + plan::k_held_retry_ms);
  CHECK_FALSE(again.newly_said); // the same hold, re-checked: recorded once
  CHECK(work[1].retry_at_ms == k_t0 + 2 * plan::k_held_retry_ms);
  CHECK(f.flow.take_due(k_t0 + plan::k_held_retry_ms, work).empty()); // rescheduled, not twice
  CHECK(f.flow.take_due(k_t0 + 2 * plan::k_held_retry_ms, work) ==
        std::vector<correlate::IncidentId>{1});
  CHECK(work[1].retry_at_ms == 0);
  CHECK(f.flow.nothing_due());

  // Inhibited: planned again by the event that frees it, not by the clock.
  auto inhibited = context;
  inhibited.inhibited = true;
  const auto waits = f.flow.decide(inhibited, work[1], k_t0 + 3 * plan::k_held_retry_ms);
  CHECK(waits.next == NextStep::held);
  CHECK(work[1].retry_at_ms == 0);
  CHECK(f.flow.nothing_due());
}

TEST_CASE("recovery flow: an approval is requested once, then waited on, then expires",
          "[plan][recovery]") {
  FlowFixture f;
  const auto context = f.context({candidate("restart-service")}, diagnose::Automation::approve);
  const auto first = f.flow.decide(context, f.state, k_t0);
  REQUIRE(first.next == NextStep::approval_requested);
  REQUIRE(first.approval);
  CHECK(first.approval->action == "restart-service");
  CHECK(f.state.approval_id == first.approval->id);
  const auto second = f.flow.decide(context, f.state, k_t0 + 1000);
  CHECK(second.next == NextStep::approval_pending);
  REQUIRE(second.approval);
  CHECK(second.approval->id == first.approval->id);
  CHECK(f.planner->pending().size() == 1);

  plan::RecoveryFlow::approval_expired(f.state);
  CHECK(f.state.approval_id == 0);
  CHECK(f.state.approval_timed_out);
}

TEST_CASE("recovery flow: attempts used up escalate and give up", "[plan][recovery]") {
  FlowFixture f;
  auto context = f.context({candidate("restart-service"), candidate("clear-cache")});
  context.attempts_so_far = 3; // plan.max_attempts
  const auto planned = f.flow.decide(context, f.state, k_t0);
  CHECK(planned.next == NextStep::escalate);
  CHECK(f.state.gave_up);
  CHECK(planned.said == "escalate: " + planned.decision.reason);
  CHECK(contains(planned.decision.reason, "plan.max_attempts 3"));
  CHECK(f.flow.nothing_due());

  // A rule that only observes: nothing follows.
  FlowFixture observe;
  const auto recorded = observe.flow.decide(
      observe.context({candidate("restart-service")}, diagnose::Automation::observe), observe.state,
      k_t0);
  CHECK(recorded.next == NextStep::none);
  CHECK_FALSE(observe.state.gave_up);
}
