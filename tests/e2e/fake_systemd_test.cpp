// SPDX-License-Identifier: Apache-2.0
// The real medic-coordinator and medic-agent under a fake systemd: NOTIFY_SOCKET (and
// WATCHDOG_USEC) point at sockets the test reads, as a Type=notify unit with WatchdogSec would.
#include <csignal>
#include <cstdlib>

#include <catch2/catch.hpp>

#include "tests/support/fleet_fixture.hpp"
#include "tests/e2e/fake_systemd.hpp"

using namespace std::chrono_literals;
using medic::test::FakeSystemd;
using medic::test::Fleet;
using medic::test::Process;

namespace {

// `ok`, with the processes' logs and what systemd received attached when it is false.
bool explained(bool ok, const Fleet& fleet, const FakeSystemd& systemd) {
  if (!ok) {
    UNSCOPED_INFO(fleet.logs() << "\nnotifications: " << systemd.all());
  }
  return ok;
}

} // namespace

TEST_CASE("fake systemd: the coordinator sends READY then WATCHDOG then RELOADING then STOPPING",
          "[fake-systemd]") {
  Fleet fleet;
  FakeSystemd systemd(fleet.dir() / "coordinator-notify.sock");
  // The coordinator inherits the test's environment: set for its start only.
  ::setenv("NOTIFY_SOCKET", (fleet.dir() / "coordinator-notify.sock").c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1); // WatchdogSec=400ms: WATCHDOG=1 every 200 ms
  fleet.start_coordinator();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  REQUIRE(explained(systemd.wait_for("READY=1", 5s), fleet, systemd));
  CHECK(systemd.messages()[systemd.matched()].find("STATUS=agents on tcp://127.0.0.1:") !=
        std::string::npos);
  const auto ready = systemd.matched();
  REQUIRE(explained(systemd.wait_for("WATCHDOG=1", 3s, ready + 1), fleet, systemd));
  const auto first_watchdog = systemd.matched();
  CHECK(explained(systemd.wait_for("WATCHDOG=1", 3s, first_watchdog + 1), fleet, systemd));

  // A reload (SIGHUP, as ExecReload sends) is framed by RELOADING=1 and READY=1.
  const auto before_reload = systemd.matched();
  fleet.coordinator().signal(SIGHUP);
  REQUIRE(explained(systemd.wait_for("RELOADING=1", 10s, before_reload + 1), fleet, systemd));
  CHECK(explained(systemd.wait_for("READY=1", 10s, systemd.matched() + 1), fleet, systemd));

  fleet.coordinator().signal(SIGTERM);
  CHECK(explained(systemd.wait_for("STOPPING=1", 10s), fleet, systemd));
  const auto status = fleet.coordinator().wait_for(10s);
  REQUIRE(status);
  CHECK(status->exited_with(0));
}

TEST_CASE("fake systemd: the agent sends READY then WATCHDOG then STOPPING", "[fake-systemd]") {
  Fleet fleet;
  fleet.start_coordinator();
  FakeSystemd systemd(fleet.dir() / "agent-notify.sock");
  const auto config = fleet.write_agent_config("notify-agent");
  fleet.enrol("notify-agent");
  Process agent({medic::test::k_agent_bin, "--config", config.string()},
                fleet.dir() / "notify-agent.log",
                {systemd.notify_socket_env(), "WATCHDOG_USEC=400000"});

  REQUIRE(explained(systemd.wait_for("READY=1", 10s), fleet, systemd));
  CHECK(systemd.messages()[systemd.matched()].find("STATUS=reporting to tcp://127.0.0.1:") !=
        std::string::npos);
  const auto ready = systemd.matched();
  REQUIRE(explained(systemd.wait_for("WATCHDOG=1", 3s, ready + 1), fleet, systemd));
  CHECK(explained(systemd.wait_for("WATCHDOG=1", 3s, systemd.matched() + 1), fleet, systemd));
  // READY came after start-up: the agent is really reporting.
  CHECK(medic::test::wait_until([&] { return fleet.agent("notify-agent").has_value(); }, 10s));

  agent.signal(SIGTERM);
  CHECK(explained(systemd.wait_for("STOPPING=1", 10s), fleet, systemd));
  const auto status = agent.wait_for(10s);
  REQUIRE(status);
  CHECK(status->exited_with(0));
}
