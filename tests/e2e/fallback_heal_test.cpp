// SPDX-License-Identifier: Apache-2.0
// Fallback healing with real processes: the coordinator is stopped, a watched service is
// killed, and the agent restarts it by itself; a service that never stays up is retried with
// backoff (and the action's cooldown) until the attempts are spent, then left for a person. When
// the coordinator is back, the agent's local actions reach it in order.
#include <dirent.h>
#include <signal.h>

#include <chrono>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/support/fleet_fixture.hpp"
#include "tests/support/watched_service.hpp"

using namespace std::chrono_literals;
using medic::test::fallback_heal_config;
using medic::test::Fleet;
using medic::test::WatchedService;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<json> local_results(const Fleet& fleet, const std::string& agent) {
  std::vector<json> results;
  const auto parsed = fleet.ctl_json({"actions", agent});
  if (!parsed) {
    return results;
  }
  for (const auto& result : parsed->value("results", json::array())) {
    if (result.value("origin", "") == "local") {
      results.push_back(result);
    }
  }
  std::reverse(results.begin(), results.end()); // oldest first
  return results;
}

std::string audit_rows(const fs::path& spool) {
  const auto rows =
      medic::test::run_command({"/usr/bin/sqlite3", spool.string(),
                                "SELECT action || ':' || status FROM heal_audit ORDER BY seq"});
  return rows.output;
}

// Starts the coordinator and the agent, waits until they talk, then stops the coordinator.
std::string start_then_cut_off(Fleet& fleet, const std::string& id, const std::string& extra) {
  const std::string endpoint = fleet.start_coordinator();
  fleet.start_connected_agent(id, extra);
  REQUIRE(fleet.stop_coordinator());
  return endpoint;
}

} // namespace

TEST_CASE("with the coordinator down, the agent restarts a killed service by itself") {
  Fleet fleet;
  const WatchedService service(fleet.dir().path(), "medic-svc");
  medic::test::Process first({service.path().string(), "3600"}, fleet.dir() / "svc.log");
  const std::string endpoint =
      start_then_cut_off(fleet, "web-1", fallback_heal_config(service, service.start_argv(), "0s"));
  INFO(fleet.logs());

  // Killed while the agent is cut off: it notices (1 s discovery, 200 ms sampling) and, being
  // disconnected for longer than fallback_after, restarts it.
  medic::test::sleep_for(1500ms);
  const auto killed_at = std::chrono::steady_clock::now();
  first.signal(SIGKILL);
  REQUIRE(first.wait_for(5s));
  REQUIRE(medic::test::wait_until([&] { return service.running(); }, 20s, 20ms));
  const auto healed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - killed_at)
                             .count();
  WARN("kill to running again: " << healed_ms << " ms");
  CHECK(healed_ms < 10'000);

  // Back online: the local action reaches the coordinator.
  fleet.start_coordinator(endpoint);
  std::vector<json> results;
  REQUIRE(medic::test::wait_until(
      [&] {
        results = local_results(fleet, "web-1");
        return !results.empty();
      },
      20s, 200ms));
  CHECK(results.front().value("action", "") == "start-svc");
  CHECK(results.front().value("rule", "") == "restart-svc");
  CHECK(results.front().value("status", "") == "succeeded");
}

TEST_CASE("a service that never stays up is retried with backoff, then left for a person") {
  Fleet fleet;
  const WatchedService service(fleet.dir().path(), "medic-crash");
  // "Starting" it runs a command that exits at once: the service never comes up.
  medic::test::Process first({service.path().string(), "3600"}, fleet.dir() / "svc.log");
  const std::string endpoint =
      start_then_cut_off(fleet, "db-1", fallback_heal_config(service, "[/bin/true]", "2s"));
  INFO(fleet.logs());
  medic::test::sleep_for(1500ms);
  first.signal(SIGKILL);
  REQUIRE(first.wait_for(5s));

  const fs::path spool = fleet.dir() / "db-1-spool.db";
  REQUIRE(medic::test::wait_until(
      [&] { return audit_rows(spool).find("needs-person") != std::string::npos; }, 30s, 200ms));
  // Three attempts, then the stop; no fourth attempt afterwards.
  medic::test::sleep_for(2500ms);
  const std::string audit = audit_rows(spool);
  INFO(audit);
  CHECK(audit ==
        "start-svc:succeeded\nstart-svc:succeeded\nstart-svc:succeeded\n"
        "start-svc:needs-person\n");

  fleet.start_coordinator(endpoint);
  std::vector<json> results;
  REQUIRE(medic::test::wait_until(
      [&] {
        results = local_results(fleet, "db-1");
        return results.size() >= 4;
      },
      20s, 200ms));
  REQUIRE(results.size() == 4);
  for (int i = 0; i < 3; ++i) {
    CHECK(results[i].value("status", "") == "succeeded");
  }
  CHECK(results[3].value("status", "") == "needs-person");
  // In order, each after the longer of the backoff (0.5 s, 1 s) and the action's cooldown (2 s).
  // The cooldown counts from when a run was queued; started_ms is when the runner took it, a
  // few milliseconds later on a loaded machine (one run's delay can exceed the next one's).
  CHECK(results[1].value("started_ms", 0LL) - results[0].value("started_ms", 0LL) >= 1950);
  CHECK(results[2].value("started_ms", 0LL) - results[1].value("started_ms", 0LL) >= 1950);
}
