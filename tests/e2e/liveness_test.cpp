// SPDX-License-Identifier: Apache-2.0
// How soon the agent learns that its coordinator stopped answering
// (agent/link/coordinator_link.hpp): within heartbeat_interval + answer_within when quiet, within
// answer_within of a signal, long before dead_after. The coordinator is frozen with SIGSTOP, a
// silent peer with its connection still open, as in a partition.
#include <csignal>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/fleet_fixture.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;

namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

std::string agent_log(const Fleet& fleet, const std::string& id) {
  return medic::test::read_file(fleet.dir() / (id + ".log"));
}

constexpr const char* k_alive = "is alive; resending";
constexpr const char* k_unanswered = "counted as lost (a HEARTBEAT unanswered for 1000 ms)";

} // namespace

TEST_CASE("a quiet agent notices a frozen coordinator within one interval and one answer time") {
  Fleet fleet;
  fleet.start_coordinator();
  fleet.agent_liveness = "  heartbeat_interval: 2s\n  dead_after: 60s\n  answer_within: 1s\n";
  auto& agent = fleet.start_connected_agent("live-quiet");
  REQUIRE(medic::test::wait_until(
      [&] { return count(agent_log(fleet, "live-quiet"), k_alive) == 1; }, 10s));
  medic::test::sleep_for(3s); // a few answered heartbeats
  INFO(fleet.logs().substr(0, 20'000));
  REQUIRE(count(agent_log(fleet, "live-quiet"), "counted as lost") == 0);

  fleet.coordinator().signal(SIGSTOP);
  const auto frozen = std::chrono::steady_clock::now();
  // dead_after is 60 s: only the unanswered HEARTBEAT can say so this soon.
  const bool lost = medic::test::wait_until(
      [&] { return count(agent_log(fleet, "live-quiet"), k_unanswered) == 1; }, 8s, 50ms);
  const auto took = std::chrono::steady_clock::now() - frozen;
  fleet.coordinator().signal(SIGCONT);
  REQUIRE(lost);
  CHECK(took < 4500ms); // heartbeat_interval 2 s + answer_within 1 s, and some slack

  // While lost it asks every second: back within about one.
  CHECK(medic::test::wait_until([&] { return count(agent_log(fleet, "live-quiet"), k_alive) == 2; },
                                4s, 50ms));
  CHECK(agent.running());
}

TEST_CASE("a signal makes the agent ask at once whether the coordinator listens") {
  Fleet fleet;
  fleet.start_coordinator();
  const auto log = fleet.dir() / "app.log";
  medic::test::write_file(log, "");
  // No regular HEARTBEAT for 30 s and a 60 s dead_after: only the signal's can tell.
  fleet.agent_liveness = "  heartbeat_interval: 30s\n  dead_after: 60s\n  answer_within: 1s\n";
  auto& agent = fleet.start_connected_agent(
      "live-signal", "logs:\n  sources:\n    - {name: app, paths: ['" + log.string() + "']}\n");
  REQUIRE(medic::test::wait_until(
      [&] { return count(agent_log(fleet, "live-signal"), k_alive) == 1; }, 10s));
  medic::test::sleep_for(2s); // the second HEARTBEAT (1 s after the first) is answered too

  fleet.coordinator().signal(SIGSTOP);
  medic::test::sleep_for(3s);
  INFO(fleet.logs().substr(0, 20'000));
  const bool quiet = count(agent_log(fleet, "live-signal"), "counted as lost") == 0;

  const auto written = std::chrono::steady_clock::now();
  {
    std::ofstream out(log, std::ios::app);
    out << "2026-11-25T07:00:00Z db1 postgres[7]: could not write to file: No space left on "
           "device\n";
  }
  const bool lost = medic::test::wait_until(
      [&] { return count(agent_log(fleet, "live-signal"), k_unanswered) == 1; }, 8s, 50ms);
  const auto took = std::chrono::steady_clock::now() - written;
  fleet.coordinator().signal(SIGCONT);
  CHECK(quiet); // nothing was asked, so nothing went unanswered, before the line
  REQUIRE(lost);
  CHECK(took < 3500ms); // event_delay 100 ms + answer_within 1 s, and some slack
  CHECK(count(agent_log(fleet, "live-signal"), "signal disk-full-error firing") == 1);
  CHECK(medic::test::wait_until(
      [&] { return count(agent_log(fleet, "live-signal"), k_alive) == 2; }, 4s, 50ms));
  CHECK(agent.running());
}
