// SPDX-License-Identifier: Apache-2.0
// Action cooldowns per (action, bound parameters): one target does not hold back another, a
// cooldown of 0 never waits, the table stays bounded and restores only what still runs.
#include "agent/act/cooldown.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace medic::agent::act;
using namespace std::chrono_literals;

namespace {

Action action(std::string name, std::chrono::milliseconds cooldown) {
  Action a;
  a.name = std::move(name);
  a.cooldown = cooldown;
  return a;
}

BoundParams unit(std::string value) {
  return BoundParams{{{"unit", std::move(value)}}};
}

} // namespace

TEST_CASE("a cooldown holds back the same action on the same target only", "[act][cooldown]") {
  Cooldowns cooldowns;
  const Action restart = action("restart-service", 30s);
  const Action reload = action("reload-service", 30s);
  CHECK_FALSE(cooldowns.until(restart, unit("a"), 1'000));
  const auto entry = cooldowns.started(restart, unit("a"), 1'000);
  REQUIRE(entry);
  CHECK(entry->until_ms == 31'000);
  CHECK(entry->key == cooldown_key(restart, unit("a")));
  CHECK(cooldowns.until(restart, unit("a"), 1'001) == 31'000);
  CHECK(cooldowns.until(restart, unit("a"), 30'999) == 31'000);
  CHECK_FALSE(cooldowns.until(restart, unit("a"), 31'000)); // over
  CHECK_FALSE(cooldowns.until(restart, unit("b"), 2'000));  // another unit
  CHECK_FALSE(cooldowns.until(reload, unit("a"), 2'000));   // another action
  CHECK_FALSE(cooldowns.until(restart, BoundParams{}, 2'000));
}

TEST_CASE("a run inside the cooldown never shortens it", "[act][cooldown]") {
  Cooldowns cooldowns;
  const Action restart = action("restart-service", 30s);
  (void)cooldowns.started(restart, unit("a"), 10'000);
  (void)cooldowns.started(restart, unit("a"), 5'000); // an older start reported late
  CHECK(cooldowns.until(restart, unit("a"), 20'000) == 40'000);
}

TEST_CASE("diagnostics with cooldown 0 never wait and take no room", "[act][cooldown]") {
  Cooldowns cooldowns;
  const Action diag = action("diag-process-tree", 0s);
  CHECK_FALSE(cooldowns.started(diag, {}, 1'000));
  CHECK_FALSE(cooldowns.until(diag, {}, 1'000));
  CHECK(cooldowns.size() == 0);
}

TEST_CASE("keys are unambiguous whatever bytes the values hold", "[act][cooldown]") {
  const Action a = action("x", 1s);
  const BoundParams one{{{"a", "b\n1:c1:d"}}};
  const BoundParams two{{{"a", "b"}, {"c", "d"}}};
  CHECK(cooldown_key(a, one) != cooldown_key(a, two));
  CHECK(cooldown_key(action("x\n1:a1:b", 1s), {}) != cooldown_key(a, BoundParams{{{"a", "b"}}}));
}

TEST_CASE("the table is bounded: expired entries go first, then the soonest ending",
          "[act][cooldown]") {
  Cooldowns cooldowns(4);
  const Action short_one = action("short", 1s);
  const Action long_one = action("long", 1h);
  (void)cooldowns.started(short_one, unit("1"), 0);    // ends at 1 000
  (void)cooldowns.started(short_one, unit("2"), 0);    // ends at 1 000
  (void)cooldowns.started(long_one, unit("1"), 0);     // ends at 3 600 000
  (void)cooldowns.started(long_one, unit("2"), 500);   // ends at 3 600 500
  (void)cooldowns.started(long_one, unit("3"), 2'000); // both short ones expired: both go
  CHECK(cooldowns.size() == 3);
  (void)cooldowns.started(long_one, unit("4"), 2'000);
  CHECK(cooldowns.size() == 4);
  (void)cooldowns.started(long_one, unit("5"), 3'000); // all live: the soonest ending goes
  CHECK(cooldowns.size() == 4);
  CHECK_FALSE(cooldowns.until(long_one, unit("1"), 3'000));
  CHECK(cooldowns.until(long_one, unit("2"), 3'000) == 3'600'500);
  CHECK(cooldowns.until(long_one, unit("5"), 3'000) == 3'603'000);
}

TEST_CASE("restore keeps only the cooldowns still running", "[act][cooldown]") {
  const Action restart = action("restart-service", 30s);
  Cooldowns cooldowns;
  cooldowns.restore(
      {{cooldown_key(restart, unit("a")), 50'000}, {cooldown_key(restart, unit("b")), 10'000}},
      20'000);
  CHECK(cooldowns.size() == 1);
  CHECK(cooldowns.until(restart, unit("a"), 20'000) == 50'000);
  CHECK_FALSE(cooldowns.until(restart, unit("b"), 5'000));
}

TEST_CASE("the reason names the action, the end in UTC and the time left", "[act][cooldown]") {
  CHECK(describe_cooldown("restart-service", 100'250, 60'000) ==
        "the cooldown of 'restart-service' for these parameters ends at "
        "1970-01-01T00:01:40.250Z (in 40.2s)");
  CHECK_THAT(describe_cooldown("x", 1'000, 5'000), Catch::EndsWith("(in 0.0s)"));
}
