// SPDX-License-Identifier: Apache-2.0
// SIGHUP reloads the real agent's config: a broken file is refused (the log says where) and the
// agent goes on reporting with the old one; a good changed file is applied (the agent executes
// itself again in place: same PID, systemd told RELOADING=1 then READY=1) and the coordinator
// sees the new labels.
#include <csignal>

#include <catch2/catch.hpp>

#include "tests/support/fleet_fixture.hpp"
#include "tests/e2e/fake_systemd.hpp"

using namespace std::chrono_literals;
using medic::test::FakeSystemd;
using medic::test::Fleet;
using medic::test::Process;

namespace {

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::string role_of(const Fleet& fleet, const std::string& id) {
  const auto agent = fleet.agent(id);
  if (!agent || !agent->contains("labels")) {
    return "";
  }
  return agent->at("labels").value("role", "");
}

std::int64_t last_seq(const Fleet& fleet, const std::string& id) {
  const auto agent = fleet.agent(id);
  return agent ? agent->value("last_seq", std::int64_t{0}) : 0;
}

} // namespace

TEST_CASE("SIGHUP: a broken agent config is refused and a good one is applied", "[agent-reload]") {
  Fleet fleet;
  fleet.start_coordinator();
  FakeSystemd systemd(fleet.dir() / "notify.sock");
  const auto config = fleet.write_agent_config("reload-agent");
  fleet.enrol("reload-agent");
  const auto log = fleet.dir() / "reload-agent.log";
  Process agent({medic::test::k_agent_bin, "--config", config.string()}, log,
                {systemd.notify_socket_env()});
  const auto why = [&] { return fleet.logs() + "\nnotifications: " + systemd.all(); };

  const bool reporting =
      medic::test::wait_until([&] { return role_of(fleet, "reload-agent") == "e2e"; }, 15s, 100ms);
  INFO(why());
  REQUIRE(reporting);
  REQUIRE(systemd.wait_for("READY=1", 5s));

  SECTION("a broken config keeps the old one running and the log says where") {
    const std::string good = medic::test::read_file(config);
    // sample.interval misspelt: an unknown key.
    medic::test::write_file(config, replaced(good, "  interval: 200ms", "  intervall: 200ms"));
    agent.signal(SIGHUP);
    const bool refused = medic::test::wait_until(
        [&] {
          return medic::test::read_file(log).find("the new config is refused") != std::string::npos;
        },
        10s, 50ms);
    const std::string text = medic::test::read_file(log);
    INFO(text);
    REQUIRE(refused);
    // file:line of the bad key, and the key.
    CHECK(text.find(config.string() + ":") != std::string::npos);
    CHECK(text.find("intervall") != std::string::npos);
    CHECK(agent.running());
    // Still reporting with the old config: new batches arrive after the refusal.
    const auto seq = last_seq(fleet, "reload-agent");
    CHECK(medic::test::wait_until([&] { return last_seq(fleet, "reload-agent") > seq + 2; }, 10s,
                                  100ms));
    CHECK(text.find("re-executing") == std::string::npos);
    CHECK(role_of(fleet, "reload-agent") == "e2e");
    CHECK_FALSE(systemd.wait_for("RELOADING=1", 200ms));
  }

  SECTION("a good changed config is applied in the same process") {
    const auto pid = agent.pid();
    const std::string good = medic::test::read_file(config);
    medic::test::write_file(config, replaced(good, "role: e2e", "role: reloaded"));
    agent.signal(SIGHUP);
    REQUIRE(systemd.wait_for("RELOADING=1", 10s));
    const auto reloading = systemd.matched();
    // The new image announces itself again once started.
    CHECK(systemd.wait_for("READY=1", 15s, reloading + 1));
    const bool applied = medic::test::wait_until(
        [&] { return role_of(fleet, "reload-agent") == "reloaded"; }, 15s, 100ms);
    INFO(why());
    CHECK(applied);
    CHECK(agent.running());
    CHECK(agent.pid() == pid);
    // Still named medic-agent (ps, pgrep, the journal), not after /proc/self/exe.
    CHECK(medic::test::read_file("/proc/" + std::to_string(pid) + "/comm") == "medic-agent\n");
    CHECK(medic::test::read_file(log).find("re-executing") != std::string::npos);
    // And it goes on reporting.
    const auto seq = last_seq(fleet, "reload-agent");
    CHECK(medic::test::wait_until([&] { return last_seq(fleet, "reload-agent") > seq + 2; }, 10s,
                                  100ms));
  }

  agent.signal(SIGTERM);
  const auto status = agent.wait_for(10s);
  REQUIRE(status);
  CHECK(status->exited_with(0));
}
