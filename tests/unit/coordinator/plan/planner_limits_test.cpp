// SPDX-License-Identifier: Apache-2.0
// plan: each recovery limit holds with a reason that names it, and releases; the cooldown's
// exponential backoff grows and resets after a success that held.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/plan/plan_fixture.hpp"

using namespace medic::test::plan_fixture;
using plan::Verdict;

TEST_CASE("plan limits: plan.max_concurrent holds until one finishes", "[plan]") {
  Fixture f;
  f.config.max_per_host = 10;
  f.rebuild();
  std::vector<plan::RecoveryKey> keys;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    const auto c = f.context({candidate("restart-service")}, diagnose::Automation::auto_, id,
                             "host-" + std::to_string(id));
    const auto d = f.planner->decide(c, k_t0);
    REQUIRE(d.verdict == Verdict::run);
    keys.push_back(plan::recovery_key(c, *d.chosen));
    f.planner->started(keys.back(), k_t0);
  }
  const auto fourth =
      f.context({candidate("restart-service")}, diagnose::Automation::auto_, 4, "host-4");
  const auto held = f.planner->decide(fourth, k_t0);
  CHECK(held.verdict == Verdict::held);
  CHECK(contains(held.reason, "plan.max_concurrent 3"));
  CHECK_FALSE(held.retry_at_ms);
  f.planner->finished(keys[0], true, k_t0 + 1000);
  CHECK(f.planner->decide(fourth, k_t0 + 1000).verdict == Verdict::run);
}

TEST_CASE("plan limits: plan.max_per_host holds a second recovery on the host", "[plan]") {
  Fixture f;
  const auto first = f.context({candidate("restart-service")}, diagnose::Automation::auto_, 1);
  const auto d = f.planner->decide(first, k_t0);
  const auto key = plan::recovery_key(first, *d.chosen);
  f.planner->started(key, k_t0);
  const auto second = f.context({candidate("clear-cache")}, diagnose::Automation::auto_, 2);
  const auto held = f.planner->decide(second, k_t0);
  CHECK(held.verdict == Verdict::held);
  CHECK(contains(held.reason, "plan.max_per_host 1"));
  // Another host is not affected.
  const auto other = f.context({candidate("clear-cache")}, diagnose::Automation::auto_, 3, "web-2");
  CHECK(f.planner->decide(other, k_t0).verdict == Verdict::run);
  f.planner->finished(key, true, k_t0 + 500);
  CHECK(f.planner->decide(second, k_t0 + 500).verdict == Verdict::run);
}

TEST_CASE("plan limits: a running recovery of the same incident holds the next", "[plan]") {
  Fixture f;
  f.config.max_per_host = 5;
  f.rebuild();
  auto c = f.context({candidate("restart-service"), candidate("clear-cache")});
  const auto d = f.planner->decide(c, k_t0);
  f.planner->started(plan::recovery_key(c, *d.chosen), k_t0);
  c.tried_actions = {"restart-service"};
  c.attempts_so_far = 1;
  const auto held = f.planner->decide(c, k_t0);
  CHECK(held.verdict == Verdict::held);
  CHECK(contains(held.reason, "still running"));
}

TEST_CASE("plan limits: plan.max_per_action_per_day holds until the oldest start ages out",
          "[plan]") {
  Fixture f;
  f.config.max_per_action_per_day = 2;
  f.config.cooldown = std::chrono::milliseconds(0);
  f.rebuild();
  for (std::uint64_t id = 1; id <= 2; ++id) {
    const auto c = f.context({candidate("restart-service")}, diagnose::Automation::auto_, id,
                             "h" + std::to_string(id));
    f.run(c, f.planner->decide(c, k_t0 + static_cast<std::int64_t>(id) * k_minute), true,
          k_t0 + static_cast<std::int64_t>(id) * k_minute,
          k_t0 + static_cast<std::int64_t>(id) * k_minute + 1);
  }
  const auto third =
      f.context({candidate("restart-service")}, diagnose::Automation::auto_, 3, "h3");
  const auto held = f.planner->decide(third, k_t0 + 10 * k_minute);
  CHECK(held.verdict == Verdict::held);
  CHECK(contains(held.reason, "plan.max_per_action_per_day 2"));
  REQUIRE(held.retry_at_ms);
  CHECK(*held.retry_at_ms == k_t0 + k_minute + 24 * 60 * k_minute);
  CHECK(f.planner->decide(third, *held.retry_at_ms).verdict == Verdict::run);
}

TEST_CASE("plan limits: the cooldown doubles with each repeat up to the maximum", "[plan]") {
  Fixture f;
  f.config.cooldown_max = std::chrono::minutes(5);
  f.rebuild();
  const auto& limits = f.planner->limits();
  CHECK(limits.cooldown_ms(1) == k_minute);
  CHECK(limits.cooldown_ms(2) == 2 * k_minute);
  CHECK(limits.cooldown_ms(3) == 4 * k_minute);
  CHECK(limits.cooldown_ms(4) == 5 * k_minute);
  CHECK(limits.cooldown_ms(60) == 5 * k_minute);

  const auto c = f.context({candidate("restart-service")});
  std::int64_t now = k_t0;
  for (std::int64_t expected : {1, 2, 4, 5}) {
    const auto d = f.planner->decide(c, now);
    REQUIRE(d.verdict == Verdict::run);
    const auto key = f.run(c, d, false, now, now + 1000);
    const auto held = f.planner->decide(c, now + 1000);
    REQUIRE(held.verdict == Verdict::held);
    CHECK(contains(held.reason, "cooling down"));
    REQUIRE(held.retry_at_ms);
    CHECK(*held.retry_at_ms == now + 1000 + expected * k_minute);
    CHECK(f.planner->decide(c, *held.retry_at_ms - 1).verdict == Verdict::held);
    now = *held.retry_at_ms;
    (void)key;
  }
}

TEST_CASE("plan limits: a success that held resets the backoff", "[plan]") {
  Fixture f;
  f.config.cooldown_reset = std::chrono::minutes(30);
  f.rebuild();
  const auto c = f.context({candidate("restart-service")});
  std::int64_t now = k_t0;
  for (int i = 0; i < 3; ++i) { // levels 1, 2, 3
    const auto d = f.planner->decide(c, now);
    REQUIRE(d.verdict == Verdict::run);
    f.run(c, d, true, now, now);
    now += 10 * k_minute; // success did not hold for 30 minutes: backoff keeps growing
  }
  const auto key = plan::recovery_key(c, *f.planner->decide(c, now).chosen);
  CHECK(f.planner->limits().backoff_level(key) == 3u);
  now += 40 * k_minute; // the last success held
  const auto d = f.planner->decide(c, now);
  REQUIRE(d.verdict == Verdict::run);
  f.planner->started(key, now);
  CHECK(f.planner->limits().backoff_level(key) == 1u);
  f.planner->finished(key, true, now);
  CHECK(*f.planner->decide(c, now).retry_at_ms == now + k_minute);
}

TEST_CASE("plan limits: cooldown entries are bounded", "[plan]") {
  Fixture f;
  f.config.max_tracked = 16;
  f.config.max_per_host = 100;
  f.config.max_concurrent = 100;
  f.config.max_per_action_per_day = 100;
  f.rebuild();
  for (std::uint64_t id = 1; id <= 40; ++id) {
    const auto c = f.context({candidate("restart-service")}, diagnose::Automation::auto_, id);
    f.run(c, f.planner->decide(c, k_t0), true, k_t0, k_t0);
  }
  CHECK(f.planner->counters().limits.cooldown_evictions == 24);
  CHECK(f.planner->running() == 0);
}
