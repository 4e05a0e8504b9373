// SPDX-License-Identifier: Apache-2.0
// The heal_rules and heal.* keys, and the {label:NAME} parameter templates.
#include "agent/heal/heal_config.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/heal/label_template.hpp"

using namespace medic::agent::heal;
using namespace std::chrono_literals;
namespace protocol = medic::protocol;

namespace {

medic::Result<void> load(HealConfig& config, std::string_view yaml) {
  medic::config::Schema schema("MEDIC_AGENT_");
  add_heal_keys(schema, config);
  return schema.load_text(yaml, "agent.yaml");
}

std::string load_error(std::string_view yaml) {
  HealConfig config;
  auto loaded = load(config, yaml);
  REQUIRE_FALSE(loaded);
  return loaded.error().message();
}

bool any_action(std::string_view /*action*/) {
  return true;
}

} // namespace

TEST_CASE("heal keys have their defaults without a file", "[heal][heal-config]") {
  HealConfig config;
  REQUIRE(load(config, ""));
  CHECK(config.rules.empty());
  CHECK(config.fallback_after == 10s);
  CHECK_FALSE(config.dry_run);
  CHECK(config.budget.backoff_base == 5s);
  CHECK(config.budget.backoff_max == 10min);
  CHECK(config.budget.jitter == Approx(0.2));
  CHECK(config.budget.max_attempts == 5);
  CHECK(config.budget.window == 1h);
  CHECK(config.budget.healthy_for == 1min);
  CHECK(config.budget.flap_cycles == 5);
  CHECK(config.budget.flap_window == 10min);
}

TEST_CASE("heal rules and settings load from YAML", "[heal][heal-config]") {
  HealConfig config;
  const auto loaded = load(config, R"(
heal_rules:
  - id: restart-web
    on_rule: process-down
    match: {process: web}
    action: restart-service
    params: {unit: "{label:process}.service", mode: "x{{y}}"}
    max_attempts: 3
  - id: clean-tmp
    on_rule: disk-almost-full
    action: clean-tmp
    always: true
heal:
  fallback_after: 30s
  dry_run: true
  backoff_base: 2s
  backoff_max: 1m
  jitter: 0.1
  max_attempts: 7
  window: 2h
  healthy_for: 90s
  flap_cycles: 3
  flap_window: 5m
)");
  REQUIRE(loaded);
  REQUIRE(config.rules.size() == 2);
  const HealRule& web = config.rules[0];
  CHECK(web.id == "restart-web");
  CHECK(web.on_rule == "process-down");
  CHECK(web.match == std::map<std::string, std::string>{{"process", "web"}});
  CHECK(web.action == "restart-service");
  CHECK(web.params.at("unit") == "{label:process}.service");
  CHECK_FALSE(web.always);
  CHECK(web.max_attempts == 3U);
  CHECK(config.rules[1].always);
  CHECK_FALSE(config.rules[1].max_attempts.has_value());
  CHECK(config.fallback_after == 30s);
  CHECK(config.dry_run);
  CHECK(config.budget.backoff_base == 2s);
  CHECK(config.budget.backoff_max == 1min);
  CHECK(config.budget.jitter == Approx(0.1));
  CHECK(config.budget.max_attempts == 7);
  CHECK(config.budget.window == 2h);
  CHECK(config.budget.healthy_for == 90s);
  CHECK(config.budget.flap_cycles == 3);
  CHECK(config.budget.flap_window == 5min);
  CHECK(check_heal_rules(config, any_action));
}

TEST_CASE("heal.jitter is a number from 0 to 0.9, also from an override", "[heal][heal-config]") {
  HealConfig config;
  medic::config::Schema schema("MEDIC_AGENT_");
  add_heal_keys(schema, config);
  REQUIRE(schema.load_override("heal.jitter=0"));
  CHECK(config.budget.jitter == 0);
  for (const char* bad : {"heal.jitter=1.5", "heal.jitter=-0.1", "heal.jitter=abc",
                          "heal.jitter=0.2x", "heal.jitter=nan"}) {
    INFO(bad);
    auto loaded = schema.load_override(bad);
    REQUIRE_FALSE(loaded);
    CHECK_THAT(loaded.error().message(), Catch::Contains("heal.jitter"));
  }
  CHECK(config.budget.jitter == 0);
}

TEST_CASE("heal rule errors name the record and the field", "[heal][heal-config]") {
  CHECK_THAT(load_error("heal_rules:\n  - {id: a, on_rule: r, action: x, params: {unit: "
                        "\"{label:}\"}}\n"),
             Catch::Contains("heal_rules[0]") && Catch::Contains("params.unit") &&
                 Catch::Contains("label name"));
  CHECK_THAT(load_error("heal_rules:\n  - {id: a, on_rule: r, action: x, params: {u: \"{lab\"}}\n"),
             Catch::Contains("params.u") && Catch::Contains("'{{'"));
  CHECK_THAT(load_error("heal_rules:\n  - {id: a, on_rule: r, action: x, max_attempts: 0}\n"),
             Catch::Contains("heal_rules[0]") && Catch::Contains("max_attempts"));
  CHECK_THAT(load_error("heal_rules:\n  - {id: a, action: x}\n"), Catch::Contains("on_rule"));
  CHECK_THAT(load_error("heal_rules:\n  - {id: a, on_rule: r, action: x, acton: y}\n"),
             Catch::Contains("acton"));
  CHECK_THAT(load_error("heal_rules:\n  - {id: '', on_rule: r, action: x}\n"),
             Catch::Contains("id must not be empty"));
  CHECK_THAT(load_error("heal:\n  max_attempts: 0\n"), Catch::Contains("heal.max_attempts"));
  CHECK_THAT(load_error("heal:\n  flap_window: 0s\n"), Catch::Contains("heal.flap_window"));
}

TEST_CASE("check_heal_rules names the rule that is wrong", "[heal][heal-config]") {
  HealConfig config;
  config.rules.push_back({"restart-web", "process-down", {}, "restart-service", {}, false, {}});
  config.rules.push_back({"restart-db", "process-down", {}, "restart-dbx", {}, false, {}});
  const auto exists = [](std::string_view action) { return action == "restart-service"; };
  auto checked = check_heal_rules(config, exists);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().message() ==
        "heal_rules: rule 'restart-db': action 'restart-dbx' is not in the catalog");

  config.rules[1] = config.rules[0];
  checked = check_heal_rules(config, exists);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().message() == "heal_rules: rule 'restart-web': the id is used twice");

  config.rules.pop_back();
  config.rules[0].params["unit"] = "{label:a b}";
  checked = check_heal_rules(config, exists);
  REQUIRE_FALSE(checked);
  CHECK_THAT(checked.error().message(), Catch::StartsWith("heal_rules: rule 'restart-web': "
                                                          "params.unit: "));

  config.rules[0].params.clear();
  config.budget.backoff_base = 2h;
  checked = check_heal_rules(config, exists);
  REQUIRE_FALSE(checked);
  CHECK_THAT(checked.error().message(), Catch::Contains("heal.backoff_base"));
}

TEST_CASE("label templates insert the signal's labels", "[heal][heal-config]") {
  const std::vector<protocol::Label> labels = {{"process", "web"}, {"pid", "42"}};
  auto expanded = expand_label_template("{label:process}.service", labels);
  REQUIRE(expanded);
  CHECK(*expanded == "web.service");
  expanded = expand_label_template("kill {label:pid} {label:pid}!", labels);
  REQUIRE(expanded);
  CHECK(*expanded == "kill 42 42!");
  expanded = expand_label_template("{{literal}} {label:process}", labels);
  REQUIRE(expanded);
  CHECK(*expanded == "{literal} web");
  expanded = expand_label_template("", labels);
  REQUIRE(expanded);
  CHECK(expanded->empty());

  auto missing = expand_label_template("{label:unit}", labels);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message() == "the signal has no label 'unit'");

  for (const char* bad : {"{", "}", "{label:x", "{pid}", "{label:}", "{label:a/b}", "a}b"}) {
    INFO(bad);
    CHECK_FALSE(check_label_template(bad));
    CHECK_FALSE(expand_label_template(bad, labels)); // never crashes on a bad template
  }
  CHECK(check_label_template("plain-text_1.2"));
  CHECK(check_label_template("{label:a.b-c_D9}"));
}
