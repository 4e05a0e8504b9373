// SPDX-License-Identifier: Apache-2.0
// Bad diagnosis rule files: every error names file:line:column, the rule and what is wrong.
#include <catch2/catch.hpp>

#include "coordinator/diagnose/diagnose_config.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/coordinator/diagnose/diagnose_inputs.hpp"

#include <fstream>

namespace dx = medic::coordinator::diagnose;
using medic::test::diagnose::load_error;

TEST_CASE("diagnose rule files: unknown keys are errors with line, column and rule", "[diagnose]") {
  CHECK(load_error("rules:\n  - id: a\n    wen: {rule: x}\n") ==
        "bad.yaml:3:5: rule 'a': unknown key 'wen' in a rule (did you mean 'when'?)");
  CHECK(load_error("rules:\n  - id: a\n    when:\n      categroy: api\n") ==
        "bad.yaml:4:7: rule 'a': unknown key 'categroy' in when (did you mean 'category'?)");
  CHECK(load_error("rule:\n  - id: a\n") ==
        "bad.yaml:1:1: unknown key 'rule' in the top level (did you mean 'rules'?)");
  CHECK(load_error("rules:\n  - id: a\n    actions:\n      - {action: x, parms: {}}\n") ==
        "bad.yaml:4:21: rule 'a': unknown key 'parms' in actions (did you mean 'params'?)");
  CHECK(load_error("rules:\n  - id: a\n    when: {metric: {name: m, abov: 1}}\n") ==
        "bad.yaml:3:30: rule 'a': unknown key 'abov' in metric (did you mean 'above'?)");
}

TEST_CASE("diagnose rule files: bad values name their position", "[diagnose]") {
  CHECK(load_error("rules:\n  - id: a\n    when: {category: apis}\n") ==
        "bad.yaml:3:22: rule 'a': unknown category 'apis' (authentication, database, api, "
        "performance, integration, resource, configuration, network)");
  CHECK(load_error("rules:\n  - id: a\n    when: {severity_at_least: urgent}\n") ==
        "bad.yaml:3:31: rule 'a': unknown severity 'urgent' (critical, high, medium, low, info)");
  CHECK(load_error("rules:\n  - id: a\n    confidence: 1.5\n") ==
        "bad.yaml:3:17: rule 'a': confidence must be in 0..1");
  CHECK(load_error("rules:\n  - id: a\n    automation: always\n") ==
        "bad.yaml:3:17: rule 'a': automation must be observe, approve or auto");
  CHECK(load_error("rules:\n  - id: a\n    when: {message: '(unclosed'}\n") ==
        "bad.yaml:3:21: rule 'a': message pattern '(unclosed' is not RE2 syntax: missing ): "
        "(unclosed");
  CHECK(load_error("rules:\n  - id: a\n    when: {metric: {name: m}}\n") ==
        "bad.yaml:3:20: rule 'a': a metric condition needs a name and above and/or below");
  CHECK(load_error("rules:\n  - id: a\n    when: {log_template: [-1]}\n") ==
        "bad.yaml:3:27: rule 'a': log_template must be a whole number 0..4294967295, got '-1'");
  CHECK(load_error("rules:\n  - id: a\n    when:\n      recent_recovery: {status: broken}\n") ==
        "bad.yaml:4:33: rule 'a': unknown result status 'broken' (succeeded, failed, rejected, "
        "expired, duplicate, timed-out, dry-run, needs-person)");
  CHECK(load_error("rules:\n  - id: a\n    when:\n      recent_recovery: {within: 5}\n") ==
        "bad.yaml:4:33: rule 'a': recent_recovery.within: expected a duration like 500ms, 2s, 5m, "
        "1h or 7d, got '5'");
  CHECK(load_error("rules:\n  - id: a\n    actions: [{action: x, success_rate: 2}]\n") ==
        "bad.yaml:3:41: rule 'a': success_rate must be in 0..1");
  CHECK(load_error("rules:\n  - id: a\n    actions: [{action: x, risk: huge}]\n") ==
        "bad.yaml:3:33: rule 'a': risk must be low, medium, high or critical");
}

TEST_CASE("diagnose rule files: ids are required, valid and unique across the tree", "[diagnose]") {
  CHECK(load_error("rules:\n  - when: {rule: x}\n") == "bad.yaml:2:5: every rule needs an `id`");
  CHECK(load_error("rules:\n  - id: needs-review\n") ==
        "bad.yaml:2:9: id 'needs-review' must be letters, digits, '.', '_', '-', ':' (at most "
        "128) and not needs-review");
  CHECK(load_error("rules:\n  - id: a\n    then:\n      - id: a\n") ==
        "bad.yaml:4:13: rule id 'a' is used twice");
  CHECK(load_error("rules:\n  - id: a\n    id: b\n") ==
        "bad.yaml:3:5: rule 'a': key 'id' given twice");
}

TEST_CASE("diagnose rule files: parameter templates are checked at load", "[diagnose]") {
  CHECK(
      load_error("rules:\n  - id: a\n    actions: [{action: x, params: {unit: '{lable:u}'}}]\n") ==
      "bad.yaml:3:42: rule 'a': parameter unit: '{lable:u}' at byte 0 is not {label:NAME}, "
      "{service}, {host} or {agent} (write '{{' for a literal brace)");
  CHECK(load_error("rules:\n  - id: a\n    actions: [{action: x, params: {unit: 'a}b'}}]\n") ==
        "bad.yaml:3:42: rule 'a': parameter unit: stray '}' at byte 1 (write '}}' for a literal "
        "brace)");
  CHECK(load_error("rules:\n  - id: a\n    actions: [{action: x, params: {unit: '{label:a|}'}}]\n")
            .find("needs label names") != std::string::npos);
}

TEST_CASE("diagnose rule files: YAML syntax errors and shapes", "[diagnose]") {
  CHECK(load_error("rules:\n  - id: a\n    when: {rule: [x\n").starts_with("bad.yaml:4:1: "));
  CHECK(load_error("rules: {id: a}\n") == "bad.yaml:1:8: `rules:` must be a list of rules");
  CHECK(load_error("rules:\n  - id: a\n    then: {id: b}\n") ==
        "bad.yaml:3:11: rule 'a': then must be a list of rules");
  CHECK(load_error("rules:\n  - id: a\n    when: [rule]\n") ==
        "bad.yaml:3:11: rule 'a': when must be a mapping, not a list");
  std::string deep = "rules:\n";
  std::string indent = "  ";
  for (int level = 0; level < 9; ++level) {
    deep += indent + "- id: r" + std::to_string(level) + "\n" + indent + "  then:\n";
    indent += "    ";
  }
  deep += indent + "- id: leaf\n";
  CHECK(load_error(deep).find("rules nest at most 8 levels deep") != std::string::npos);
}

TEST_CASE("diagnose config: the rules file key loads the file, and errors name the key",
          "[diagnose]") {
  medic::test::TempDir dir;
  const auto path = dir.path() / "diagnosis.yaml";
  {
    std::ofstream out(path);
    out << "rules:\n  - id: a\n    confidence: 2\n";
  }
  dx::DiagnoseConfig config;
  medic::config::Schema schema("MEDIC_TEST_");
  dx::add_diagnose_keys(schema, config);
  REQUIRE(schema.load_text("diagnosis:\n  rules_file: " + path.string() + "\n  recent_window: 2h\n",
                           "c.yaml"));
  CHECK(config.recent_window == std::chrono::hours(2));
  auto finished = dx::finish_diagnose(config);
  REQUIRE_FALSE(finished);
  CHECK(finished.error().message() ==
        "diagnosis.rules_file: " + path.string() + ":3:17: rule 'a': confidence must be in 0..1");
  {
    std::ofstream out(path);
    out << "rules:\n  - id: a\n";
  }
  REQUIRE(dx::finish_diagnose(config));
  CHECK(config.rules.size() == 1);
  config.rules_file.clear();
  REQUIRE(dx::finish_diagnose(config));
  CHECK(config.rules.size() == 0);
  config.rules_file = (dir.path() / "missing.yaml").string();
  CHECK_FALSE(dx::finish_diagnose(config));
}
