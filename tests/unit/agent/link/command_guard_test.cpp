// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "agent/link/command_guard.hpp"

using medic::agent::link::CommandGuard;
using medic::agent::link::CommandVerdict;
using medic::protocol::Command;

TEST_CASE("a command runs once, in time, and never again") {
  CommandGuard guard;
  const Command restart{"c-1", 10'000, "restart-service", {}};
  CHECK(guard.check(restart, 5'000) == CommandVerdict::run);
  CHECK(guard.check(restart, 5'001) == CommandVerdict::duplicate);
  CHECK(guard.check(restart, 20'000) == CommandVerdict::duplicate); // replayed late
  CHECK(guard.check(Command{"c-2", 4'999, "restart-service", {}}, 5'000) ==
        CommandVerdict::expired);
  CHECK(guard.check(Command{"c-3", 5'000, "x", {}}, 5'000) == CommandVerdict::run); // at the edge
}

TEST_CASE("the guard forgets only ids whose deadline passed, and refuses when full of live ones") {
  CommandGuard guard(2);
  CHECK(guard.check(Command{"a", 100, "x", {}}, 0) == CommandVerdict::run);
  CHECK(guard.check(Command{"b", 1'000, "x", {}}, 0) == CommandVerdict::run);
  CHECK(guard.check(Command{"c", 1'000, "x", {}}, 50) == CommandVerdict::overloaded);
  // At 200, "a" is past its deadline: forgetting it is safe, a replay would be expired anyway.
  CHECK(guard.check(Command{"c", 1'000, "x", {}}, 200) == CommandVerdict::run);
  CHECK(guard.remembered() == 2);
  CHECK(guard.check(Command{"a", 100, "x", {}}, 300) == CommandVerdict::expired);
  CHECK(guard.check(Command{"b", 1'000, "x", {}}, 300) == CommandVerdict::duplicate);
}
