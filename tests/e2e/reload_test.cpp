// SPDX-License-Identifier: Apache-2.0
// Reloading a running coordinator's config (SIGHUP and `medicctl reload`): a bad config keeps
// the old one running and says why; a good one is applied (rules, engine settings) and what
// needs a restart is reported, not applied.
#include <csignal>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/fleet_fixture.hpp"

using medic::test::Fleet;
using medic::test::read_file;
using medic::test::wait_until;
using medic::test::write_file;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_one_rule =
    "rules:\n"
    "  - id: crashed-service\n"
    "    when: {rule: process-down}\n"
    "    root_cause: crashed-service\n"
    "    automation: observe\n";

constexpr const char* k_two_rules =
    "rules:\n"
    "  - id: crashed-service\n"
    "    when: {rule: process-down}\n"
    "    root_cause: crashed-service\n"
    "    automation: observe\n"
    "  - id: disk-full\n"
    "    when: {rule: disk-full}\n"
    "    root_cause: disk-full\n"
    "    automation: observe\n";

// The config Fleet::start_coordinator writes, with `extra` after it and the coordinator's own
// endpoint (so that an unchanged listen address reads the same).
std::string coordinator_yaml(const Fleet& fleet, const std::string& listen,
                             const std::string& extra) {
  // clang-format off
  return "agents:\n"
         "  listen: " + listen + "\n"
         "storage:\n"
         "  url: sqlite://" + fleet.db_path() + "\n"
         "admin:\n"
         "  socket: " + fleet.socket_path() + "\n"
         "security:\n"
         "  key_file: " + (fleet.dir() / "coordinator.key").string() + "\n"
         "log:\n"
         "  level: debug\n" + extra;
  // clang-format on
}

std::string engine_yaml(const Fleet& fleet, const std::string& flapping) {
  return "diagnosis: {rules_file: " + (fleet.dir() / "rules.yaml").string() +
         "}\n"
         "escalation:\n"
         "  rules: {flapping: " +
         flapping + "}\n";
}

std::size_t rule_count(const Fleet& fleet) {
  const auto stats = fleet.ctl("stats");
  REQUIRE(stats.has_value());
  return stats->at("stats").value("diagnosis_rules", std::size_t{0});
}

} // namespace

TEST_CASE(
    "medicctl reload applies a new rule and an engine setting and reports what needs a "
    "restart") {
  Fleet fleet;
  write_file(fleet.dir() / "rules.yaml", k_one_rule);
  const std::string listen = "tcp://127.0.0.1:*";
  fleet.start_coordinator(listen, engine_yaml(fleet, "true"));
  INFO(fleet.logs());
  REQUIRE(rule_count(fleet) == 1);

  SECTION("a new rule and a changed escalation rule are applied, listen is not") {
    write_file(fleet.dir() / "rules.yaml", k_two_rules);
    write_file(fleet.dir() / "coordinator.yaml",
               coordinator_yaml(fleet, "tcp://127.0.0.1:1", engine_yaml(fleet, "false")));
    const auto reloaded = fleet.ctl_words({"--json", "reload"});
    REQUIRE(reloaded.status.exited_with(0));
    const auto answer = nlohmann::json::parse(reloaded.output);
    CHECK(answer.at("rules") == 2);
    CHECK(answer.at("changed") == nlohmann::json::array({"escalation.rules.flapping"}));
    CHECK(answer.at("needs_restart") == nlohmann::json::array({"agents.listen"}));
    CHECK(answer.at("summary").get<std::string>().find("2 diagnosis rules (were 1)") !=
          std::string::npos);
    CHECK(rule_count(fleet) == 2);
    // The address the coordinator listens on did not change.
    const auto status = fleet.ctl("status");
    REQUIRE(status.has_value());
    CHECK(status->value("listen", "") == fleet.endpoint());
    // Still pending: reported again by the next reload, the applied key is not.
    const auto again = fleet.ctl_words({"reload"});
    REQUIRE(again.status.exited_with(0));
    CHECK(again.output.find("changed but needs a restart: agents.listen") != std::string::npos);
    CHECK(again.output.find("escalation.rules.flapping") == std::string::npos);
    CHECK(wait_until(
        [&] {
          return read_file(fleet.dir() / "coordinator.log").find("(asked by operator:uid=0)") !=
                 std::string::npos;
        },
        5s));
  }

  SECTION("a broken rules file is refused with where and why and the old rules stay") {
    write_file(fleet.dir() / "rules.yaml", "rules:\n  - id: broken\n    when: {rule: [}\n");
    const auto refused = fleet.ctl_words({"reload"});
    CHECK(refused.status.exited_with(1));
    CHECK(refused.errors.find("bad-config") != std::string::npos);
    CHECK(refused.errors.find("rules.yaml:3:") != std::string::npos);
    CHECK(refused.errors.find("the running config stays") != std::string::npos);
    CHECK(rule_count(fleet) == 1);
    CHECK(fleet.coordinator().running());
    // Fixed: the next reload takes it.
    write_file(fleet.dir() / "rules.yaml", k_two_rules);
    CHECK(fleet.ctl_words({"reload"}).status.exited_with(0));
    CHECK(rule_count(fleet) == 2);
  }

  SECTION("a rule naming an unknown field is refused") {
    write_file(fleet.dir() / "rules.yaml", std::string(k_one_rule) + "    confidance: 0.5\n");
    const auto refused = fleet.ctl_words({"reload"});
    CHECK(refused.status.exited_with(1));
    CHECK(refused.errors.find("rules.yaml:") != std::string::npos);
    CHECK(rule_count(fleet) == 1);
  }
}

TEST_CASE("SIGHUP with a broken config keeps the coordinator running and logs why") {
  Fleet fleet;
  write_file(fleet.dir() / "rules.yaml", k_one_rule);
  fleet.start_coordinator("tcp://127.0.0.1:*", engine_yaml(fleet, "true"));
  INFO(fleet.logs());
  const auto log = fleet.dir() / "coordinator.log";

  // An unknown key on line 14 (after the 10 lines of the base config and the 3 of the engine).
  write_file(fleet.dir() / "coordinator.yaml",
             coordinator_yaml(fleet, "tcp://127.0.0.1:*",
                              engine_yaml(fleet, "false") + "plan: {max_atempts: 2}\n"));
  fleet.coordinator().signal(SIGHUP);
  CHECK(wait_until(
      [&] {
        return read_file(log).find(
                   "reload asked by signal:SIGHUP refused, the running config "
                   "stays") != std::string::npos;
      },
      5s));
  CHECK(read_file(log).find("coordinator.yaml:14:") != std::string::npos);
  CHECK(read_file(log).find("max_atempts") != std::string::npos);
  CHECK(fleet.coordinator().running());
  CHECK(fleet.ctl("status").has_value());
  CHECK(rule_count(fleet) == 1);

  // A good one by SIGHUP: the new rules are in use.
  write_file(fleet.dir() / "rules.yaml", k_two_rules);
  write_file(fleet.dir() / "coordinator.yaml",
             coordinator_yaml(fleet, "tcp://127.0.0.1:*", engine_yaml(fleet, "true")));
  fleet.coordinator().signal(SIGHUP);
  CHECK(wait_until([&] { return rule_count(fleet) == 2; }, 5s));
  CHECK(fleet.coordinator().running());
}
