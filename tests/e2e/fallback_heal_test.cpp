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

#include "tests/e2e/e2e_fixture.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Pids of processes whose executable is `path` (the service copies are unique per test run).
std::vector<pid_t> pids_running(const fs::path& path) {
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] < '1' || name[0] > '9') {
      continue;
    }
    std::error_code error;
    const auto exe = fs::read_symlink(entry.path() / "exe", error);
    if (!error && exe == path) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
}

void kill_all(const fs::path& path) {
  for (const pid_t pid : pids_running(path)) {
    ::kill(pid, SIGKILL);
  }
}

// `cooldown`: the action's own (catalog) cooldown, which the healer waits for beside its backoff.
std::string heal_config(const fs::path& service, const std::string& start_argv,
                        const std::string& cooldown = "0s") {
  return "processes:\n"
         "  - {name: svc, process_name: " +
         service.filename().string() +
         "}\n"
         "sample:\n"
         "  process_discovery_ms: 1000\n"
         "heal:\n"
         "  fallback_after: 1s\n"
         "  backoff_base: 500ms\n"
         "  backoff_max: 1s\n"
         "  max_attempts: 3\n"
         "  healthy_for: 30s\n"
         "heal_rules:\n"
         "  - {id: restart-svc, on_rule: process-down, match: {process: svc}, action: start-svc}\n"
         "actions:\n"
         "  - name: start-svc\n"
         "    kind: exec\n"
         "    risk: low\n"
         "    timeout: 5s\n"
         "    cooldown: " +
         cooldown +
         "\n"
         "    argv: " +
         start_argv + "\n";
}

std::vector<json> local_results(const Fleet& fleet, const std::string& agent) {
  std::vector<json> results;
  const auto answer = fleet.ctl_words({"--json", "actions", agent});
  if (!answer.status.exited_with(0)) {
    return results;
  }
  const auto parsed = json::parse(answer.output, nullptr, false);
  if (parsed.is_discarded()) {
    return results;
  }
  for (const auto& result : parsed.value("results", json::array())) {
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
  fleet.start_agent(id, true, extra);
  REQUIRE(medic::test::wait_until([&] { return fleet.agent(id).has_value(); }, 15s));
  fleet.coordinator().signal(SIGTERM);
  REQUIRE(fleet.coordinator().wait_for(10s));
  return endpoint;
}

} // namespace

TEST_CASE("with the coordinator down, the agent restarts a killed service by itself") {
  Fleet fleet;
  const fs::path service = fleet.dir() / ("medic-svc-" + std::to_string(::getpid()));
  fs::copy_file("/bin/sleep", service);
  struct Cleanup {
    fs::path path;
    ~Cleanup() { kill_all(path); }
  } cleanup{service};
  const std::string start = "[/usr/bin/setsid, -f, " + service.string() + ", '3600']";
  medic::test::Process first({service.string(), "3600"}, fleet.dir() / "svc.log");
  const std::string endpoint = start_then_cut_off(fleet, "web-1", heal_config(service, start));
  INFO(fleet.logs());

  // Killed while the agent is cut off: it notices (1 s discovery, 200 ms sampling) and, being
  // disconnected for longer than fallback_after, restarts it.
  medic::test::sleep_for(1500ms);
  const auto killed_at = std::chrono::steady_clock::now();
  first.signal(SIGKILL);
  REQUIRE(first.wait_for(5s));
  REQUIRE(medic::test::wait_until([&] { return !pids_running(service).empty(); }, 20s, 20ms));
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
  const fs::path service = fleet.dir() / ("medic-crash-" + std::to_string(::getpid()));
  fs::copy_file("/bin/sleep", service);
  struct Cleanup {
    fs::path path;
    ~Cleanup() { kill_all(path); }
  } cleanup{service};
  // "Starting" it runs a command that exits at once: the service never comes up.
  medic::test::Process first({service.string(), "3600"}, fleet.dir() / "svc.log");
  const std::string endpoint =
      start_then_cut_off(fleet, "db-1", heal_config(service, "[/bin/true]", "2s"));
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
  CHECK(results[1].value("started_ms", 0LL) - results[0].value("started_ms", 0LL) >= 2000);
  CHECK(results[2].value("started_ms", 0LL) - results[1].value("started_ms", 0LL) >= 2000);
}
