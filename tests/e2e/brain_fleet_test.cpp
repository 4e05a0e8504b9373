// SPDX-License-Identifier: Apache-2.0
// The coordinator's brain across hosts, with real agents: the same database-connection signal
// from 20 agents is one fleet incident with no restarts and one escalation; a dependency's
// incident is the root of its dependants' and only it is remediated; a flapping service stops
// being restarted and is escalated. (Escalation to a real Alertmanager and a webhook receiver:
// alertmanager_test.cpp.)
#include <signal.h>

#include <chrono>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/e2e/brain_helpers.hpp"
#include "tests/support/http_receiver.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;
using namespace medic::test::brain;
namespace fs = std::filesystem;

// On failure, the incidents and their timelines as the coordinator has them.
#define REQUIRE_OR_DUMP(condition)                       \
  do {                                                   \
    if (!(condition)) {                                  \
      FAIL(#condition << "\n" << dump_incidents(fleet)); \
    }                                                    \
  } while (false)

namespace {

std::string rules_file(const Fleet& fleet, const std::string& text) {
  const fs::path path = fleet.dir() / "diagnosis.yaml";
  std::ofstream(path) << text;
  return path.string();
}

// Steps of `kind` in the timelines of the incidents of `rule`.
std::size_t count_kind(const Fleet& fleet, const std::string& kind, const std::string& rule) {
  std::size_t count = 0;
  for (const auto& incident : incidents(fleet)) {
    if (incident.value("rule", "") != rule) {
      continue;
    }
    const auto kinds = timeline_kinds(fleet, incident.value("id", std::uint64_t{0}));
    count += static_cast<std::size_t>(std::count(kinds.begin(), kinds.end(), kind));
  }
  return count;
}

} // namespace

TEST_CASE("the same database signal from 20 agents is one fleet incident, not 20 restarts") {
  Fleet fleet;
  medic::test::HttpReceiver webhook;
  const std::string rules = rules_file(fleet,
                                       "rules:\n"
                                       "  - id: database-down\n"
                                       "    when: {rule: db-connection-failed}\n"
                                       "    root_cause: database-unreachable\n"
                                       "    automation: auto\n"
                                       "    actions: [{action: reconnect, success_rate: 0.9}]\n");
  fleet.start_coordinator("tcp://127.0.0.1:*",
                          "diagnosis: {rules_file: " + rules +
                              "}\n"
                              "correlation: {fleet_min_hosts: 5, fleet_window: 1m}\n"
                              "escalation:\n"
                              "  webhooks: [{url: '" +
                              webhook.url() + "'}]\n");
  INFO(fleet.logs());
  constexpr int k_agents = 20;
  for (int i = 0; i < k_agents; ++i) {
    const std::string id = "app-" + std::to_string(i);
    const fs::path log = fleet.dir() / (id + "-app.log");
    std::ofstream(log) << "";
    fleet.start_agent(
        id, true,
        "agent:\n  host: " + id +
            "-host\n"                // as on 20 machines
            "default_rules: false\n" // the busy test machine's CPU is not the subject
            "log_rules:\n"
            "  - {id: db-connection-failed, count: 5, window: 1m, severity: high, category: "
            "database,\n"
            "     pattern: 'could not connect to server'}\n"
            "logs:\n  sources:\n    - {name: app, paths: ['" +
            log.string() +
            "']}\n"
            "actions:\n"
            "  - {name: reconnect, kind: exec, risk: low, timeout: 5s, cooldown: 0s,\n"
            "     argv: [/bin/true]}\n");
  }
  REQUIRE(medic::test::wait_until(
      [&] {
        for (int i = 0; i < k_agents; ++i) {
          if (!fleet.agent("app-" + std::to_string(i))) {
            return false;
          }
        }
        return true;
      },
      // 20 agents under ASan, with the rest of the suite in parallel: one CI run took over 60 s.
      // (ctest stops an e2e test at 120 s.)
      100s, 250ms));
  medic::test::sleep_for(1s); // the tailers follow their files
  for (int i = 0; i < k_agents; ++i) {
    std::ofstream log(fleet.dir() / ("app-" + std::to_string(i) + "-app.log"), std::ios::app);
    for (int line = 0; line < 6; ++line) {
      log << "ERROR could not connect to server: Connection refused\n";
    }
  }

  std::vector<json> fleet_incidents;
  REQUIRE_OR_DUMP(medic::test::wait_until(
      [&] {
        fleet_incidents.clear();
        for (const auto& i : incidents(fleet)) {
          if (i.value("kind", "") == "fleet" && i.value("rule", "") == "db-connection-failed") {
            fleet_incidents.push_back(i);
          }
        }
        return fleet_incidents.size() == 1 && fleet_incidents[0].value("fleet_hosts", 0) >= 15;
      },
      45s, 500ms));
  medic::test::sleep_for(3s); // time for anything wrong to happen
  CHECK(count_kind(fleet, "command", "db-connection-failed") == 0);
  CHECK(count_kind(fleet, "escalated", "db-connection-failed") == 1);
  std::size_t members = 0;
  for (const auto& i : incidents(fleet)) {
    members += i.value("link", "") == "fleet" && i.value("rule", "") == "db-connection-failed";
  }
  CHECK(members >= 15);
  const auto database_alerts = [&] {
    std::size_t alerts = 0;
    for (const auto& request : webhook.received()) {
      alerts += request.body.find("db-connection-failed") != std::string::npos ? 1 : 0;
    }
    return alerts;
  };
  REQUIRE(medic::test::wait_until([&] { return database_alerts() > 0; }, 10s, 100ms));
  CHECK(database_alerts() == 1);
}

TEST_CASE("a dependency's incident is the root, and only the dependency is remediated") {
  Fleet fleet;
  TestService postgres(fleet, "medic-dep-postgres");
  TestService api(fleet, "medic-dep-api");
  fleet.start_coordinator("tcp://127.0.0.1:*",
                          "diagnosis: {rules_file: " + write_rules(fleet, "auto") +
                              "}\n"
                              "correlation: {quiet_period: 60s}\n"
                              "dependencies:\n  - {service: api, depends_on: [postgres]}\n");
  fleet.start_agent("pg-1", true, agent_config(postgres, "postgres", "low"));
  fleet.start_agent("api-1", true, agent_config(api, "api", "low"));
  INFO(fleet.logs());
  REQUIRE(medic::test::wait_until(
      [&] { return fleet.agent("pg-1").has_value() && fleet.agent("api-1").has_value(); }, 20s));
  medic::test::sleep_for(1500ms);

  // The database goes down, and the API with it.
  postgres.first->signal(SIGKILL);
  api.first->signal(SIGKILL);
  REQUIRE(postgres.first->wait_for(5s));
  REQUIRE(api.first->wait_for(5s));
  std::optional<json> root;
  std::optional<json> dependant;
  REQUIRE(medic::test::wait_until(
      [&] {
        for (const auto& i : incidents(fleet)) {
          if (i.value("service", "") == "postgres") {
            root = i;
          } else if (i.value("service", "") == "api") {
            dependant = i;
          }
        }
        return root && dependant && dependant->value("link", "") == "dependency";
      },
      20s, 200ms));
  CHECK(dependant->value("root_id", std::uint64_t{0}) == root->value("id", std::uint64_t{0}));
  REQUIRE_OR_DUMP(medic::test::wait_until([&] { return postgres.running(); }, 20s, 50ms));
  medic::test::sleep_for(2s);
  CHECK_FALSE(api.running()); // held back while its root is open
  CHECK(contains(timeline_kinds(fleet, root->value("id", std::uint64_t{0})), "command"));
  CHECK_FALSE(contains(timeline_kinds(fleet, dependant->value("id", std::uint64_t{0})), "command"));
}

TEST_CASE("a flapping service stops being restarted and is escalated") {
  Fleet fleet;
  TestService service(fleet, "medic-flap-svc");
  fleet.start_coordinator("tcp://127.0.0.1:*",
                          "diagnosis: {rules_file: " + write_rules(fleet, "auto") +
                              "}\n"
                              "correlation: {quiet_period: 0s, flap_count: 2, flap_window: 10m}\n"
                              "plan: {cooldown: 0s}\n"
                              "escalation:\n  rules: {critical_at_once: false}\n");
  fleet.start_connected_agent("web-9", agent_config(service, "web", "low"));
  INFO(fleet.logs());
  medic::test::sleep_for(1500ms);

  // Killed three times: twice restarted by the coordinator, the third opening is flapping.
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    REQUIRE(service.running());
    (void)medic::test::run_command({"/usr/bin/pkill", "-KILL", "-f", service.path.string()});
    if (round < 2) {
      REQUIRE(medic::test::wait_until([&] { return service.running(); }, 20s, 50ms));
      // Up long enough to be seen up, so the incident clears and resolves.
      REQUIRE(medic::test::wait_until(
          [&] {
            const auto i = incident_with_rule(fleet, "process-down");
            return i && i->value("state", "") == "resolved" && i->value("reopened", -1) == round;
          },
          20s, 100ms));
    }
  }
  std::optional<json> incident;
  REQUIRE_OR_DUMP(medic::test::wait_until(
      [&] {
        incident = incident_with_rule(fleet, "process-down");
        return incident && incident->value("flapping", false);
      },
      20s, 200ms));
  medic::test::sleep_for(3s);
  CHECK_FALSE(service.running());
  const auto kinds = timeline_kinds(fleet, incident->value("id", std::uint64_t{0}));
  CHECK(contains(kinds, "flapping"));
  CHECK(contains(kinds, "escalated"));
  CHECK(std::count(kinds.begin(), kinds.end(), "command") == 2);
}
