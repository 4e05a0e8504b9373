// SPDX-License-Identifier: Apache-2.0
// The coordinator's brain with real processes: a real service crashes on a host with a real
// agent connected, and the coordinator opens an incident, diagnoses it, sends the restart,
// verifies it by the agent's post-condition, learns, and resolves the incident; a high-risk
// action waits for `medicctl approve`; a dependency's incident is the root of its dependants'.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/e2e/brain_helpers.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;
using namespace medic::test::brain;
namespace fs = std::filesystem;

TEST_CASE("a crashed service is restarted through the coordinator, verified and learned") {
  Fleet fleet;
  TestService service(fleet, "medic-brain-svc");
  start_watching(fleet, service, "web-1", "web", "low",
                 coordinator_config(write_rules(fleet, "auto")));
  INFO(fleet.logs());

  const auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(service.crash());
  REQUIRE(medic::test::wait_until([&] { return service.running(); }, 30s, 20ms));
  WARN("crash to running again through the coordinator: "
       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                killed_at)
              .count()
       << " ms");

  // The incident resolves once the process is seen up again and the quiet period passed.
  const auto incident = wait_for_resolved(fleet, "process-down", 30s);
  REQUIRE(incident);
  CHECK(incident->value("host", "") != "");
  CHECK(incident->at("diagnosis").value("root_cause", "") == "crashed-service");

  const auto id = incident->value("id", std::uint64_t{0});
  std::vector<std::string> kinds;
  REQUIRE(medic::test::wait_until(
      [&] {
        kinds = timeline_kinds(fleet, id);
        return contains(kinds, "resolved") && contains(kinds, "verified");
      },
      10s, 200ms));
  for (const char* step : {"opened", "diagnosed", "decided", "command", "verified", "resolved"}) {
    INFO(step);
    CHECK(contains(kinds, step));
  }

  // The learned success of (crashed-service, start-svc) moved from its prior.
  const auto stats = fleet.ctl("stats");
  REQUIRE(stats);
  INFO(stats->dump());
  bool learned = false;
  for (const auto& row : stats->at("stats").value("per_action", json::array())) {
    if (row.value("name", "") == "start-svc") {
      learned = row.value("attempts", 0) == 1 && row.value("successes", 0) == 1;
    }
  }
  CHECK(learned);
  const auto why = fleet.ctl_words({"explain", std::to_string(id)});
  CHECK(why.output.find("start-svc") != std::string::npos);

  // A clean stop writes the day's healing figures and the open minute roll-ups; the raw samples
  // were stored with their batches. A restart finds the incident, its timeline and what was
  // learned again.
  REQUIRE(fleet.stop_coordinator(15s));
  const auto stored = medic::test::run_command(
      {"/usr/bin/sqlite3", fleet.db_path(),
       "SELECT (SELECT COUNT(*) FROM sample_batches) > 0, (SELECT COUNT(*) FROM rollups_minute) > "
       "0, (SELECT COUNT(*) FROM series WHERE agent_id = 'web-1') > 0, (SELECT opened || '/' || "
       "resolved || '/' || auto_recovered || '/' || actions_succeeded FROM daily_healing_metrics "
       "ORDER BY day DESC LIMIT 1)"});
  INFO(stored.output << stored.errors);
  REQUIRE(stored.status.exited_with(0));
  CHECK(stored.output.starts_with("1|1|1|"));
  // At least this incident, resolved automatically by one successful action.
  const auto figures = stored.output.substr(std::min<std::size_t>(6, stored.output.size()));
  int opened = 0, resolved = 0, automatic = 0, succeeded = 0;
  REQUIRE(std::sscanf(figures.c_str(), "%d/%d/%d/%d", &opened, &resolved, &automatic,
                      &succeeded) == 4);
  CHECK(opened >= 1);
  CHECK(resolved >= 1);
  CHECK(automatic >= 1);
  CHECK(succeeded >= 1);

  fleet.start_coordinator(fleet.endpoint(), coordinator_config(write_rules(fleet, "auto")));
  const auto again = fleet.ctl_words({"--json", "incident", "show", std::to_string(id)});
  INFO(again.output << again.errors);
  REQUIRE(again.status.exited_with(0));
  const auto kinds_again = timeline_kinds(fleet, id);
  REQUIRE(kinds_again.size() >= kinds.size());
  CHECK(std::equal(kinds.begin(), kinds.end(), kinds_again.begin()));
  const auto stats_again = fleet.ctl("stats");
  REQUIRE(stats_again);
  bool still_learned = false;
  for (const auto& row : stats_again->at("stats").value("per_action", json::array())) {
    still_learned = still_learned || (row.value("name", "") == "start-svc" &&
                                      row.value("successes", 0) == 1);
  }
  CHECK(still_learned);
}

TEST_CASE("a high-risk recovery waits for approval, and approve runs it") {
  Fleet fleet;
  TestService service(fleet, "medic-approve-svc");
  start_watching(fleet, service, "db-1", "db", "high",
                 coordinator_config(write_rules(fleet, "auto")));
  INFO(fleet.logs());
  REQUIRE(service.crash());

  json pending;
  REQUIRE(medic::test::wait_until(
      [&] {
        const auto answer = fleet.ctl("approvals");
        if (!answer || answer->value("approvals", json::array()).empty()) {
          return false;
        }
        pending = answer->at("approvals").at(0);
        return true;
      },
      20s, 200ms));
  CHECK(pending.value("action", "") == "start-svc");
  CHECK(pending.value("risk", "") == "high");
  medic::test::sleep_for(2s);
  CHECK_FALSE(service.running()); // nothing ran without a person

  const auto approved =
      fleet.ctl_words({"approve", std::to_string(pending.value("id", std::uint64_t{0}))});
  INFO(approved.output);
  REQUIRE(approved.status.exited_with(0));
  REQUIRE(medic::test::wait_until([&] { return service.running(); }, 20s, 50ms));
  const auto incident = incident_with_rule(fleet, "process-down");
  REQUIRE(incident);
  std::vector<std::string> kinds;
  REQUIRE(medic::test::wait_until( // the audit trail is written about once a second
      [&] {
        kinds = timeline_kinds(fleet, incident->value("id", std::uint64_t{0}));
        return contains(kinds, "command");
      },
      10s, 200ms));
  CHECK(contains(kinds, "approval"));
  CHECK(contains(kinds, "approved"));
  CHECK(contains(kinds, "command"));
}

TEST_CASE("an unapproved recovery times out and escalates instead") {
  Fleet fleet;
  TestService service(fleet, "medic-timeout-svc");
  start_watching(
      fleet, service, "db-2", "db", "low",
      coordinator_config(write_rules(fleet, "approve"), "{approval_timeout: 10s, cooldown: 1s}",
                         "escalation:\n  rules: {critical_at_once: false}\n"));
  INFO(fleet.logs());
  REQUIRE(service.crash());

  std::optional<json> incident;
  REQUIRE(medic::test::wait_until(
      [&] {
        incident = incident_with_rule(fleet, "process-down");
        return incident.has_value();
      },
      20s, 200ms));
  const auto id = incident->value("id", std::uint64_t{0});
  std::vector<std::string> kinds;
  REQUIRE(medic::test::wait_until(
      [&] {
        kinds = timeline_kinds(fleet, id);
        return contains(kinds, "escalated");
      },
      25s, 250ms));
  CHECK(contains(kinds, "approval"));
  CHECK(contains(kinds, "expired"));
  CHECK_FALSE(contains(kinds, "command"));
  CHECK_FALSE(service.running());
}
