// SPDX-License-Identifier: Apache-2.0
// service/config_reload: a config file's keys compared before and after a reload, sorted into
// what applies live and what needs a restart.
#include <catch2/catch.hpp>

#include "coordinator/service/config_reload.hpp"
#include "tests/support/temp_dir.hpp"

using namespace medic::coordinator::service;

namespace {

ConfigKeys keys(const char* text) {
  auto parsed = parse_config_keys(text, "coordinator.yaml");
  REQUIRE(parsed);
  return *parsed;
}

} // namespace

TEST_CASE("config reload: nested and dotted keys flatten to the same names", "[reload]") {
  const auto nested = keys("plan:\n  max_attempts: 3\n  cooldown: 1m\nagents: {listen: x}\n");
  CHECK(nested.at("plan.max_attempts") == "3");
  CHECK(nested.at("agents.listen") == "x");
  const auto dotted = keys("plan.max_attempts: 3\nplan.cooldown: 1m\nagents.listen: x\n");
  CHECK(dotted == nested);
  // A list (records) is one value.
  const auto deps = keys("dependencies:\n  - {service: api, depends_on: [db]}\n");
  CHECK(deps.size() == 1);
  CHECK(deps.contains("dependencies"));
  CHECK(keys("").empty());
}

TEST_CASE("config reload: a YAML error names the file, line and column", "[reload]") {
  const auto bad = parse_config_keys("plan:\n  max_attempts: [3\n", "/etc/medic/c.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("/etc/medic/c.yaml:") == 0);
  medic::test::TempDir dir;
  const auto missing = read_config_keys(dir / "none.yaml");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("none.yaml: cannot be read") != std::string::npos);
  CHECK(read_config_keys("")->empty());
  medic::test::write_file(dir / "c.yaml", "log: {level: warn}\n");
  CHECK(read_config_keys(dir / "c.yaml")->at("log.level") == "warn");
}

TEST_CASE("config reload: changes are sorted into applied and needs a restart", "[reload]") {
  const auto before = keys(
      "agents: {listen: 'tcp://a:1', stale_after: 5s}\n"
      "storage: {url: 'sqlite:///a'}\n"
      "plan: {max_attempts: 3, max_tracked: 10}\n"
      "escalation: {rules: {fleet: true}}\n"
      "log: {level: info}\n"
      "diagnosis: {rules_file: /a.yaml}\n");
  const auto after = keys(
      "agents: {listen: 'tcp://b:1', stale_after: 5s}\n"
      "storage: {url: 'sqlite:///b'}\n"
      "plan: {max_attempts: 4, max_tracked: 20}\n"
      "escalation: {rules: {fleet: false}}\n"
      "log: {level: debug}\n"
      "correlation: {quiet_period: 1m}\n");
  const auto changes = compare_config_keys(before, after);
  CHECK(changes.applied ==
        std::vector<std::string>{"correlation.quiet_period", "diagnosis.rules_file",
                                 "escalation.rules.fleet", "log.level", "plan.max_attempts"});
  CHECK(changes.needs_restart ==
        std::vector<std::string>{"agents.listen", "plan.max_tracked", "storage.url"});
  CHECK(changes.log_level);
  CHECK_FALSE(changes.sinks); // escalation.rules.* is read by the engine, no sink rebuilt
  CHECK(compare_config_keys(before, before).empty());

  const auto sinks = compare_config_keys(before, keys("escalation: {rules: {fleet: true}, "
                                                      "webhooks: [{url: 'http://x'}]}\n"));
  CHECK(sinks.sinks);
}

TEST_CASE("config reload: which keys need a restart", "[reload]") {
  for (const char* key :
       {"agents.listen", "agents.receive_queue", "security.key_file", "storage.url",
        "storage.queue", "admin.socket", "admin.group", "alertmanager_input.listen",
        "metrics.listen", "learn.max_posteriors", "plan.max_tracked", "plan.approval_timeout",
        "correlation.group_label", "diagnosis.recent_window"}) {
    INFO(key);
    CHECK(needs_restart(key));
  }
  for (const char* key :
       {"plan.max_attempts", "plan.dry_run", "learn.baseline_span", "correlation.quiet_period",
        "dependencies", "escalation.webhooks", "diagnosis.rules_file", "log.level",
        "commands.deadline", "storagex", "administrator"}) {
    INFO(key);
    CHECK_FALSE(needs_restart(key));
  }
}

TEST_CASE("config reload: the summary says what changed", "[reload]") {
  ConfigChanges changes;
  CHECK(describe_reload("/etc/medic/coordinator.yaml", changes, 3, 3) ==
        "reloaded /etc/medic/coordinator.yaml: 3 diagnosis rules; no key changed");
  changes.applied = {"plan.max_attempts", "log.level"};
  changes.needs_restart = {"agents.listen"};
  CHECK(describe_reload("c.yaml", changes, 3, 4) ==
        "reloaded c.yaml: 4 diagnosis rules (were 3); changed: plan.max_attempts, log.level; "
        "changed but needs a restart: agents.listen");
}
