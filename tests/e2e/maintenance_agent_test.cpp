// SPDX-License-Identifier: Apache-2.0
// Maintenance on the agent, end to end with the real coordinator: a window or the fleet freeze
// set with medicctl reaches the agent as POLICY; cut off from its coordinator (even across an
// agent restart) the agent then does not restart a killed service by itself, and reports why.
// Once the window is removed or the freeze lifted (while connected) and the agent is cut off
// again, it heals the service as usual. The coordinator runs in dry-run mode so that only the
// agent's own healing can restart anything.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/fleet_fixture.hpp"
#include "tests/support/watched_service.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using medic::test::WatchedService;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// An ordinary (not `always`) heal rule: it acts only after 1 s without the coordinator. The
// action's cooldown is the catalog's default (1m).
std::string agent_config(const WatchedService& service) {
  return medic::test::fallback_heal_config(service, service.start_argv(), "1m");
}

bool agent_logged(const Fleet& fleet, const std::string& id, const std::string& text) {
  return medic::test::read_file(fleet.dir() / (id + ".log")).find(text) != std::string::npos;
}

// The agent logs one line per POLICY it keeps ("maintenance policy kept: version V, freeze
// on|off, N windows"): true once the newest such line contains `text`.
bool latest_policy_says(const Fleet& fleet, const std::string& id, const std::string& text) {
  const std::string log = medic::test::read_file(fleet.dir() / (id + ".log"));
  const auto at = log.rfind("maintenance policy kept: ");
  return at != std::string::npos &&
         log.substr(at, log.find('\n', at) - at).find(text) != std::string::npos;
}

std::string audit_rows(const Fleet& fleet, const std::string& id) {
  return medic::test::run_command({"/usr/bin/sqlite3", (fleet.dir() / (id + "-spool.db")).string(),
                                   "SELECT action || ':' || status || ':' || reason FROM "
                                   "heal_audit ORDER BY seq"})
      .output;
}

// Coordinator up in dry-run mode, agent connected and greeted; returns the agent's process.
medic::test::Process& start_connected(Fleet& fleet, const WatchedService& service,
                                      const std::string& id) {
  fleet.start_coordinator();
  REQUIRE(fleet.ctl_words({"dry-run", "on"}).status.exited_with(0));
  return fleet.start_connected_agent(id, agent_config(service));
}

// Kills the service while the agent is cut off and checks that nothing restarts it for 6 s
// (fallback_after 1 s + discovery 1 s + backoff: the agent would have acted well before).
void check_held(const Fleet& fleet, const WatchedService& service, const std::string& id,
                const std::string& reason) {
  REQUIRE(service.kill_now());
  REQUIRE(medic::test::wait_until(
      [&] {
        return audit_rows(fleet, id).find("start-svc:rejected:" + reason) != std::string::npos;
      },
      15s, 200ms));
  medic::test::sleep_for(6s);
  CHECK_FALSE(service.running());
  const std::string audit = audit_rows(fleet, id);
  INFO(audit);
  CHECK(audit.find("start-svc:succeeded") == std::string::npos);
}

} // namespace

TEST_CASE(
    "an agent cut off during a maintenance window leaves a killed service down until it is "
    "removed") {
  Fleet fleet;
  const WatchedService service(fleet.dir().path(), "medic-mw-svc");
  medic::test::Process first({service.path().string(), "3600"}, fleet.dir() / "svc.log");
  (void)start_connected(fleet, service, "mw-1");
  const std::string endpoint = fleet.endpoint();
  const std::string host = fleet.agent("mw-1")->value("host", "");
  REQUIRE_FALSE(host.empty());

  const auto added = fleet.ctl_words(
      {"--json", "maintenance", "add", "--host", host, "--for", "1h", "--reason", "e2e"});
  REQUIRE(added.status.exited_with(0));
  REQUIRE(medic::test::wait_until(
      [&] { return latest_policy_says(fleet, "mw-1", "freeze off, 1 windows"); }, 10s, 100ms));
  INFO(added.output);
  std::string window_id;
  for (const auto& window :
       json::parse(added.output)["maintenance"].value("windows", json::array())) {
    if (window.value("reason", "") == "e2e") {
      window_id = window.value("id", "");
    }
  }
  REQUIRE_FALSE(window_id.empty());

  REQUIRE(fleet.stop_coordinator());
  check_held(fleet, service, "mw-1", "maintenance window " + window_id);

  // Back online: the held run reached the coordinator as a local outcome with its reason.
  fleet.start_coordinator(endpoint);
  REQUIRE(medic::test::wait_until(
      [&] {
        const auto answer = fleet.ctl_words({"--json", "actions", "mw-1"});
        return answer.output.find("maintenance window " + window_id) != std::string::npos;
      },
      20s, 200ms));

  // Removed while connected (the dry-run coordinator does nothing itself), then cut off again:
  // the agent heals by itself.
  REQUIRE(fleet.ctl_words({"maintenance", "remove", window_id}).status.exited_with(0));
  REQUIRE(medic::test::wait_until(
      [&] { return latest_policy_says(fleet, "mw-1", "freeze off, 0 windows"); }, 10s, 100ms));
  CHECK_FALSE(service.running());
  REQUIRE(fleet.stop_coordinator());
  const bool healed = medic::test::wait_until([&] { return service.running(); }, 20s, 100ms);
  INFO(fleet.logs());
  CHECK(healed);
}

TEST_CASE("the fleet freeze holds an agent's own healing across an agent restart until lifted") {
  Fleet fleet;
  const WatchedService service(fleet.dir().path(), "medic-mw-svc");
  medic::test::Process first({service.path().string(), "3600"}, fleet.dir() / "svc.log");
  auto& agent = start_connected(fleet, service, "fz-1");
  const std::string endpoint = fleet.endpoint();

  REQUIRE(fleet.ctl_words({"freeze", "on", "--reason", "e2e release"}).status.exited_with(0));
  REQUIRE(medic::test::wait_until(
      [&] { return latest_policy_says(fleet, "fz-1", "freeze on, 0 windows"); }, 10s, 100ms));

  // Cut off, and the agent restarted meanwhile: the freeze comes back from its spool.
  REQUIRE(fleet.stop_coordinator());
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_for(10s));
  fleet.start_agent("fz-1", false, agent_config(service));
  REQUIRE(medic::test::wait_until(
      [&] { return agent_logged(fleet, "fz-1", "maintenance policy from the spool: "); }, 10s,
      100ms));
  medic::test::sleep_for(1500ms); // the restarted agent has discovered the running service
  check_held(fleet, service, "fz-1", "fleet freeze");

  fleet.start_coordinator(endpoint);
  REQUIRE(fleet.ctl_words({"freeze", "off"}).status.exited_with(0));
  REQUIRE(medic::test::wait_until(
      [&] { return latest_policy_says(fleet, "fz-1", "freeze off, 0 windows"); }, 15s, 100ms));
  CHECK_FALSE(service.running());
  REQUIRE(fleet.stop_coordinator());
  const bool healed = medic::test::wait_until([&] { return service.running(); }, 20s, 100ms);
  INFO(fleet.logs());
  CHECK(healed);
}
