// SPDX-License-Identifier: Apache-2.0
// plan: automation levels, plan.max_auto_risk, fleet guard, inhibition, maintenance, dry run,
// attempts ceiling, config keys.
#include <catch2/catch.hpp>

#include "shared/config/schema.hpp"
#include "tests/unit/coordinator/plan/plan_fixture.hpp"

using namespace medic::test::plan_fixture;
using plan::Verdict;

TEST_CASE("plan policy: observe only records, naming what would run", "[plan]") {
  Fixture f;
  const auto d = f.planner->decide(
      f.context({candidate("restart-service")}, diagnose::Automation::observe), k_t0);
  CHECK(d.verdict == Verdict::record_only);
  REQUIRE(d.chosen);
  CHECK(d.chosen->candidate.action == "restart-service");
  CHECK(contains(d.reason, "says observe"));
}

TEST_CASE("plan policy: approve waits for approval", "[plan]") {
  Fixture f;
  const auto d = f.planner->decide(
      f.context({candidate("restart-service")}, diagnose::Automation::approve), k_t0);
  CHECK(d.verdict == Verdict::await_approval);
  CHECK(contains(d.reason, "says approve"));
}

TEST_CASE("plan policy: auto runs up to plan.max_auto_risk, above waits", "[plan]") {
  Fixture f;
  CHECK(f.planner->decide(f.context({candidate("clear-cache")}), k_t0).verdict == Verdict::run);
  const auto high = f.planner->decide(f.context({candidate("failover-db")}), k_t0);
  CHECK(high.verdict == Verdict::await_approval);
  CHECK(contains(high.reason, "above plan.max_auto_risk medium"));
  f.config.max_auto_risk = "high";
  f.rebuild();
  CHECK(f.planner->decide(f.context({candidate("failover-db")}), k_t0).verdict == Verdict::run);
  f.config.max_auto_risk = "low";
  f.rebuild();
  CHECK(f.planner->decide(f.context({candidate("clear-cache")}), k_t0).verdict ==
        Verdict::await_approval);
}

TEST_CASE("plan policy: a fleet member needs approval even under auto", "[plan]") {
  Fixture f;
  auto c = f.context({candidate("restart-service")});
  c.fleet_member = true;
  const auto d = f.planner->decide(c, k_t0);
  CHECK(d.verdict == Verdict::await_approval);
  CHECK(contains(d.reason, "blast-radius"));
}

TEST_CASE("plan policy: inhibited and maintenance are held with the reason", "[plan]") {
  Fixture f;
  auto c = f.context({candidate("restart-service")});
  c.inhibited = true;
  c.incident.root_id = 7;
  c.incident.link = medic::coordinator::correlate::LinkReason::dependency;
  const auto inhibited = f.planner->decide(c, k_t0);
  CHECK(inhibited.verdict == Verdict::held);
  CHECK(contains(inhibited.reason, "linked to incident 7 (dependency)"));
  c.inhibited = false;
  c.maintenance = true;
  const auto maintenance = f.planner->decide(c, k_t0);
  CHECK(maintenance.verdict == Verdict::held);
  CHECK(contains(maintenance.reason, "maintenance"));
}

TEST_CASE("plan policy: a disconnected agent holds a runnable action", "[plan]") {
  Fixture f;
  auto c = f.context({candidate("restart-service")});
  c.agent_connected = false;
  const auto d = f.planner->decide(c, k_t0);
  CHECK(d.verdict == Verdict::held);
  CHECK(contains(d.reason, "not connected"));
}

TEST_CASE("plan policy: no candidates is nothing to do", "[plan]") {
  Fixture f;
  const auto d = f.planner->decide(f.context({}), k_t0);
  CHECK(d.verdict == Verdict::nothing_to_do);
  CHECK_FALSE(d.chosen);
}

TEST_CASE("plan policy: dry run decides as usual and flags the decision", "[plan]") {
  Fixture f;
  f.config.dry_run = true;
  f.rebuild();
  const auto d = f.planner->decide(f.context({candidate("restart-service")}), k_t0);
  CHECK(d.verdict == Verdict::run);
  CHECK(d.dry_run);
  CHECK(contains(d.reason, "dry run"));
}

TEST_CASE("plan policy: plan.max_attempts attempts, then escalate", "[plan]") {
  Fixture f;
  auto c = f.context({candidate("restart-service"), candidate("clear-cache"),
                      candidate("failover-db"), candidate("reboot-host")});
  c.attempts_so_far = 2;
  CHECK(f.planner->decide(c, k_t0).verdict != Verdict::escalate);
  c.attempts_so_far = 3;
  const auto d = f.planner->decide(c, k_t0);
  CHECK(d.verdict == Verdict::escalate);
  CHECK(contains(d.reason, "plan.max_attempts 3"));
}

TEST_CASE("plan config: keys load, defaults hold, cross-key checks fail clearly", "[plan]") {
  plan::PlanConfig config;
  medic::config::Schema schema("MEDIC_TEST_");
  plan::add_plan_keys(schema, config);
  REQUIRE(plan::finish_plan(config));
  CHECK(config.max_concurrent == 3);
  CHECK(config.max_per_host == 1);
  CHECK(config.max_per_action_per_day == 20);
  CHECK(config.max_auto == plan::Risk::medium);
  CHECK(config.approval_timeout == std::chrono::minutes(15));
  REQUIRE(
      schema.load_text("plan:\n  max_auto_risk: high\n  promote_success: 0.95\n"
                       "  cooldown: 30s\n",
                       "p.yaml"));
  REQUIRE(plan::finish_plan(config));
  CHECK(config.max_auto == plan::Risk::high);
  CHECK(config.promote_success == 0.95);
  CHECK(config.cooldown == std::chrono::seconds(30));
  REQUIRE(schema.load_text("plan:\n  demote_success: 0.96\n", "p.yaml"));
  const auto crossed = plan::finish_plan(config);
  REQUIRE_FALSE(crossed);
  CHECK(contains(crossed.error().message(), "plan.demote_success"));
  const auto bad = schema.load_text("plan:\n  promote_success: 1.5\n", "p.yaml");
  REQUIRE_FALSE(bad);
  CHECK(contains(bad.error().message(), "promote_success"));
}
