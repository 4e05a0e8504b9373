// SPDX-License-Identifier: Apache-2.0
// Diagnosis rules: every condition kind holds and fails where it should, and the explanation
// names what matched.
#include <catch2/catch.hpp>

#include "coordinator/diagnose/glob.hpp"
#include "tests/unit/coordinator/diagnose/diagnose_inputs.hpp"

namespace dx = medic::coordinator::diagnose;
namespace protocol = medic::protocol;
using medic::test::diagnose::incident_input;
using medic::test::diagnose::load;
using protocol::Category;
using protocol::Severity;

namespace {

// One rule "hit" with the given `when:` body; true when it diagnoses `input`.
bool holds(std::string_view when, const dx::DiagnosisInput& input) {
  const dx::RuleSet rules = load("rules:\n  - id: hit\n    when:\n" + std::string(when));
  return dx::diagnose(rules, input).rule_id == "hit";
}

dx::DiagnosisInput process_down() {
  return incident_input("process-down", Category::integration, Severity::critical,
                        {{"process", "web"}, {"service", "web"}, {"role", "frontend"}});
}

} // namespace

TEST_CASE("diagnose globs: '*', '?' and literal text", "[diagnose]") {
  CHECK(dx::glob_match("probe-*", "probe-down"));
  CHECK(dx::glob_match("*", ""));
  CHECK(dx::glob_match("a*b*c", "aXXbYYc"));
  CHECK(dx::glob_match("disk-?ull", "disk-full"));
  CHECK_FALSE(dx::glob_match("disk-?ull", "disk-ffull"));
  CHECK_FALSE(dx::glob_match("probe-*", "process-down"));
  CHECK_FALSE(dx::glob_match("abc", "abcd"));
  std::string_view value;
  CHECK(dx::canonical_label("device=sda,mount=/var", "mount", value));
  CHECK(value == "/var");
  CHECK_FALSE(dx::canonical_label("device=sda", "mount", value));
}

TEST_CASE("diagnose conditions: category, rule glob and severity", "[diagnose]") {
  const auto input = process_down();
  CHECK(holds("      category: [api, integration]\n", input));
  CHECK_FALSE(holds("      category: resource\n", input));
  CHECK(holds("      rule: [disk-full, \"process-*\"]\n", input));
  CHECK_FALSE(holds("      rule: \"probe-*\"\n", input));
  CHECK(holds("      severity_at_least: high\n", input));
  CHECK(holds("      severity_at_least: critical\n", input));
  auto low = input;
  low.incident.severity = Severity::low;
  CHECK_FALSE(holds("      severity_at_least: medium\n", low));
}

TEST_CASE("diagnose conditions: kind, service and host", "[diagnose]") {
  auto input = process_down();
  CHECK(holds("      kind: host\n", input));
  CHECK_FALSE(holds("      kind: fleet\n", input));
  CHECK(holds("      service: \"w*\"\n", input));
  CHECK_FALSE(holds("      service: db\n", input));
  CHECK(holds("      host: [\"db-*\", \"web-?\"]\n", input));
  input.incident.kind = medic::coordinator::correlate::IncidentKind::fleet;
  CHECK(holds("      kind: fleet\n", input));
}

TEST_CASE("diagnose conditions: labels present, equal and glob, all must hold", "[diagnose]") {
  const auto input = process_down();
  CHECK(holds("      labels: {process: \"*\"}\n", input));
  CHECK(holds("      labels: {process: web, role: [backend, front*]}\n", input));
  CHECK_FALSE(holds("      labels: {process: web, role: backend}\n", input));
  CHECK_FALSE(holds("      labels: {mount: \"*\"}\n", input));
}

TEST_CASE("diagnose conditions: message patterns are RE2, unanchored", "[diagnose]") {
  auto input = process_down();
  input.incident.message = "FATAL: sorry, too many clients already";
  CHECK(holds("      message: ['too many (clients|connections)']\n", input));
  CHECK(holds("      message: ['^nope', '(?i)fatal']\n", input));
  CHECK_FALSE(holds("      message: '^sorry'\n", input));
}

TEST_CASE("diagnose conditions: metrics above, below, by label and by incident label",
          "[diagnose]") {
  auto input = incident_input("disk-almost-full", Category::resource, Severity::high,
                              {{"mount", "/var"}, {"device", "sda1"}});
  input.metrics = {{"mem.used_pct", "", 93.5},
                   {"disk.used_pct", "device=sda1,fstype=ext4,mount=/var", 91},
                   {"disk.used_pct", "device=sda2,fstype=ext4,mount=/", 40}};
  CHECK(holds("      metric: [{name: mem.used_pct, above: 90}]\n", input));
  CHECK_FALSE(holds("      metric: {name: mem.used_pct, above: 95}\n", input));
  CHECK(holds("      metric: {name: mem.used_pct, above: 90, below: 95}\n", input));
  CHECK(holds("      metric: {name: \"disk.*\", below: 50}\n", input));
  CHECK(holds("      metric: {name: disk.used_pct, labels: {mount: /}, below: 50}\n", input));
  CHECK_FALSE(holds("      metric: {name: disk.used_pct, labels: {mount: /}, above: 50}\n", input));
  CHECK(holds("      metric: {name: disk.used_pct, labels: {mount: '{label:mount}'}, above: 90}\n",
              input));
  CHECK_FALSE(holds(
      "      metric: {name: disk.used_pct, labels: {mount: '{label:mount}'}, below: 50}\n", input));
  CHECK(holds("      metric: [{name: cpu.usage_pct, above: 1}, {name: mem.used_pct, above: 1}]\n",
              input));
  CHECK_FALSE(holds("      metric: {name: cpu.usage_pct, above: 1}\n", input));
  const auto diagnosis = dx::diagnose(
      load("rules:\n  - id: m\n    when: {metric: {name: mem.used_pct, above: 90}}\n"), input);
  CHECK(diagnosis.explanation == "Rule m matched (mem.used_pct 93.5 above 90).");
}

TEST_CASE("diagnose conditions: log templates and log rules seen on the host", "[diagnose]") {
  auto input = process_down();
  input.log_templates = {3, 12, 40};
  input.log_rules = {"segfault", "oom-killer"};
  CHECK(holds("      log_template: [12]\n", input));
  CHECK(holds("      log_template: [1, 40]\n", input));
  CHECK_FALSE(holds("      log_template: 13\n", input));
  CHECK(holds("      log_rule: [oom-*]\n", input));
  CHECK_FALSE(holds("      log_rule: disk-full-error\n", input));
}

TEST_CASE("diagnose conditions: recent incidents at least / at most", "[diagnose]") {
  auto input = process_down();
  input.recent_incidents = 3;
  CHECK(holds("      recent_incidents: {at_least: 3}\n", input));
  CHECK_FALSE(holds("      recent_incidents: {at_least: 4}\n", input));
  CHECK(holds("      recent_incidents: {at_least: 1, at_most: 3}\n", input));
  CHECK_FALSE(holds("      recent_incidents: {at_most: 2}\n", input));
}

TEST_CASE("diagnose conditions: recent recoveries by action, status, count and age", "[diagnose]") {
  auto input = process_down();
  const std::int64_t now = input.incident.last_seen_ms;
  input.recent_recoveries = {{"restart-service", protocol::ResultStatus::failed, now - 60'000},
                             {"restart-service", protocol::ResultStatus::timed_out, now - 120'000},
                             {"restart-service", protocol::ResultStatus::failed, now - 3'000'000},
                             {"clean-tmp", protocol::ResultStatus::succeeded, now - 10'000}};
  CHECK(holds("      recent_recovery: {action: restart-service, status: failed, at_least: 2}\n",
              input));
  CHECK_FALSE(holds(
      "      recent_recovery: {action: restart-service, status: failed, at_least: 3}\n", input));
  CHECK(
      holds("      recent_recovery: {action: restart-*, status: [failed, timed-out], "
            "at_least: 3}\n",
            input));
  CHECK_FALSE(
      holds("      recent_recovery: {action: restart-service, status: failed, "
            "at_least: 2, within: 30m}\n",
            input));
  CHECK(holds("      recent_recovery: {status: succeeded}\n", input));
  CHECK(holds("      recent_recovery: [{action: kill-process}, {action: clean-tmp}]\n", input));
  CHECK_FALSE(holds("      recent_recovery: {action: kill-process}\n", input));
}

TEST_CASE("diagnose conditions: every condition must hold, and none is a catch-all", "[diagnose]") {
  const auto input = process_down();
  CHECK(holds("      category: integration\n      rule: process-down\n", input));
  CHECK_FALSE(holds("      category: integration\n      rule: endpoint-down\n", input));
  const dx::RuleSet rules = load("rules:\n  - id: anything\n    root_cause: unknown-failure\n");
  const auto diagnosis = dx::diagnose(rules, input);
  CHECK(diagnosis.rule_id == "anything");
  CHECK(diagnosis.explanation == "Rule anything matched (no conditions).");
}
