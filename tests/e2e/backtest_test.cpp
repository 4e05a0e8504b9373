// SPDX-License-Identifier: Apache-2.0
// `medicctl rules test` against a real coordinator and a real agent: the live rules only
// observe a crashed service; a candidate rule set that would restart it is backtested over the
// period, and the report says so — while the live incidents, their audit trail and the agent
// are left exactly as they were (no COMMAND sent: the service stays down).
#include <signal.h>

#include <chrono>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/e2e/brain_helpers.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;
using namespace medic::test::brain;
namespace fs = std::filesystem;

namespace {

std::string write_candidate(const Fleet& fleet) {
  const fs::path path = fleet.dir() / "candidate.yaml";
  std::ofstream(path) << "rules:\n"
                         "  - id: candidate-crashed\n"
                         "    when: {rule: process-down}\n"
                         "    root_cause: crashed-service\n"
                         "    confidence: 0.9\n"
                         "    automation: auto\n"
                         "    actions:\n"
                         "      - {action: start-svc, success_rate: 0.8}\n";
  return path.string();
}

std::size_t action_results(const Fleet& fleet) {
  const auto answer = fleet.ctl("actions");
  return answer ? answer->value("results", json::array()).size() : 0;
}

} // namespace

TEST_CASE("medicctl rules test backtests a candidate rule set and changes nothing") {
  Fleet fleet;
  TestService service(fleet, "medic-backtest-svc");
  fleet.start_coordinator("tcp://127.0.0.1:*", coordinator_config(write_rules(fleet, "observe")));
  fleet.start_connected_agent("web-1", agent_config(service, "web", "low"));
  INFO(fleet.logs());
  medic::test::sleep_for(1500ms);
  REQUIRE(service.crash());
  std::optional<json> live;
  REQUIRE(medic::test::wait_until(
      [&] { return (live = incident_with_rule(fleet, "process-down")).has_value(); }, 30s, 200ms));
  const auto id = live->value("id", std::uint64_t{0});
  medic::test::sleep_for(1500ms); // the live decision (observe) is audited
  const auto incidents_before = incidents(fleet);
  const auto timeline_before = timeline_kinds(fleet, id);
  const auto actions_before = action_results(fleet);

  const std::string candidate = write_candidate(fleet);
  const auto result =
      fleet.ctl_words({"--json", "rules", "test", "--rules", candidate, "--since", "1h"});
  INFO(result.output << result.errors);
  REQUIRE(result.status.exited_with(0));
  const json report = json::parse(result.output).at("report");
  CHECK(report.at("totals").value("signals", 0) >= 1);
  CHECK(report.at("totals").value("runs", 0) >= 1);
  CHECK(report.at("live").value("incidents", 0) >= 1);
  bool would_run = false;
  for (const auto& incident : report.at("incidents")) {
    if (incident.value("rule", "") != "process-down") {
      continue;
    }
    CHECK(incident.at("diagnosis").value("rule", "") == "candidate-crashed");
    for (const auto& decision : incident.at("decisions")) {
      would_run |=
          decision.value("verdict", "") == "run" && decision.value("action", "") == "start-svc";
    }
  }
  CHECK(would_run);
  // The human table names the candidate rule too.
  const auto table = fleet.ctl_words({"rules", "test", "--rules", candidate, "--since", "1h"});
  CHECK(table.status.exited_with(0));
  CHECK(table.output.find("candidate-crashed") != std::string::npos);

  // Nothing changed: same incidents, same timeline, no action run, the service still down.
  medic::test::sleep_for(2s);
  CHECK(incidents(fleet).size() == incidents_before.size());
  CHECK(timeline_kinds(fleet, id) == timeline_before);
  CHECK(action_results(fleet) == actions_before);
  CHECK_FALSE(service.running());
}

TEST_CASE("medicctl rules check says where a rule file is wrong") {
  Fleet fleet;
  fleet.start_coordinator("tcp://127.0.0.1:*");
  const fs::path good = fleet.dir() / "good.yaml";
  std::ofstream(good) << "rules:\n  - id: ok\n    when: {rule: x}\n    root_cause: y\n";
  const auto ok = fleet.ctl_words({"rules", "check", good.string()});
  INFO(ok.output << ok.errors);
  CHECK(ok.status.exited_with(0));
  CHECK(ok.output.find("1 rules valid") != std::string::npos);
  const fs::path bad = fleet.dir() / "bad.yaml";
  std::ofstream(bad) << "rules:\n  - id: broken\n    when: {rule: x}\n    root_cuase: y\n";
  const auto refused = fleet.ctl_words({"rules", "check", bad.string()});
  INFO(refused.output << refused.errors);
  CHECK(refused.status.exited_with(1));
  CHECK(refused.errors.find(bad.string() + ":4:") != std::string::npos);
  const auto missing = fleet.ctl_words({"rules", "test", "--since", "1h"});
  CHECK(missing.status.exited_with(2));
}
