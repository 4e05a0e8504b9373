// SPDX-License-Identifier: Apache-2.0
// HealthBoard: post-conditions judged on samples newer than the action, and on firing rules.
#include "agent/loop/health_board.hpp"

#include <catch2/catch.hpp>

#include "tests/support/allocation_counter.hpp"

using medic::agent::act::PostCondition;
using medic::agent::loop::HealthBoard;
namespace protocol = medic::protocol;

TEST_CASE("HealthBoard judges probes, processes and rules", "[loop][acting]") {
  HealthBoard board;
  const PostCondition probe{PostCondition::Kind::probe, "web", std::chrono::seconds(5)};
  const PostCondition process{PostCondition::Kind::process, "nginx", std::chrono::seconds(5)};
  const PostCondition rule{PostCondition::Kind::rule, "disk-almost-full", std::chrono::seconds(5)};
  board.follow(probe);
  board.follow(process);

  const protocol::LabelView web[] = {{"probe", "web"}};
  const protocol::LabelView other[] = {{"probe", "api"}};
  const protocol::LabelView nginx[] = {{"process", "nginx"}};
  CHECK_FALSE(board.healthy(probe, 0, ""));
  board.observe("probe.up", 1, 1000, web);
  CHECK(board.healthy(probe, 500, ""));
  CHECK_FALSE(board.healthy(probe, 1000, "")); // a sample from before the action proves nothing
  board.observe("probe.up", 0, 2000, web);
  CHECK_FALSE(board.healthy(probe, 500, ""));
  board.observe("probe.up", 1, 3000, other); // not followed: ignored
  CHECK_FALSE(board.healthy(probe, 500, ""));
  board.observe("proc.up", 1, 3000, nginx);
  CHECK(board.healthy(process, 2500, ""));

  // Observing a sample allocates nothing.
  if (medic::test::allocation_counting_works()) {
    CHECK(medic::test::allocations_in([&] {
            board.observe("probe.up", 1, 4000, web);
            board.observe("cpu.usage_pct", 12, 4000, {});
          }) == 0);
  } else {
    WARN("allocation counting is off in this build (sanitizer allocator)");
  }

  CHECK(board.healthy(rule, 0, ""));
  protocol::SignalView fire{};
  fire.rule = "disk-almost-full";
  fire.fingerprint = "f1";
  fire.state = protocol::SignalState::firing;
  board.on_signal(fire);
  CHECK_FALSE(board.healthy(rule, 0, ""));
  CHECK_FALSE(board.healthy(rule, 0, "f1"));
  CHECK(board.healthy(rule, 0, "f2"));
  fire.state = protocol::SignalState::cleared;
  board.on_signal(fire);
  CHECK(board.healthy(rule, 0, "f1"));
}
