// SPDX-License-Identifier: Apache-2.0
// Diagnosis rules as a decision tree: order, refinement by children, inheritance of the
// conclusion, parameter templates, dropped candidates and needs-review.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/diagnose/diagnose_inputs.hpp"

namespace dx = medic::coordinator::diagnose;
namespace protocol = medic::protocol;
using medic::test::diagnose::incident_input;
using medic::test::diagnose::load;
using protocol::Category;
using protocol::Severity;

namespace {

constexpr std::string_view k_tree = R"yaml(
rules:
  - id: crashed-service
    when: {rule: process-down, labels: {process: "*"}}
    root_cause: crashed-service
    causes: [the process exited]
    confidence: 0.8
    automation: auto
    actions:
      - action: restart-service
        params: {unit: "{label:service|process}.service"}
        success_rate: 0.9
        risk: low
    then:
      - id: restart-failing
        when:
          recent_recovery: {action: restart-service, status: failed, at_least: 2}
        root_cause: failed-deployment
        automation: approve
        actions:
          - {action: rollback-release, success_rate: 0.7, prior_weight: 4, risk: high}
        then:
          - id: restart-failing-config
            when: {log_rule: config-error}
            confidence: 0.9
      - id: out-of-memory
        when: {log_rule: oom-killer}
        causes: [the OOM killer ended it]
  - id: second
    when: {rule: "process-*"}
    root_cause: second
)yaml";

dx::DiagnosisInput process_down(std::vector<protocol::Label> labels = {{"process", "web"}}) {
  return incident_input("process-down", Category::integration, Severity::critical,
                        std::move(labels));
}

void add_failed_restarts(dx::DiagnosisInput& input, int count) {
  for (int i = 0; i < count; ++i) {
    input.recent_recoveries.push_back(
        {"restart-service", protocol::ResultStatus::failed, input.incident.last_seen_ms - i});
  }
}

} // namespace

TEST_CASE("diagnose tree: the first matching top-level rule wins", "[diagnose]") {
  const auto rules = load(k_tree);
  CHECK(rules.size() == 5);
  const auto diagnosis = dx::diagnose(rules, process_down());
  CHECK(diagnosis.rule_id == "crashed-service");
  CHECK(diagnosis.root_cause == "crashed-service");
  CHECK(diagnosis.probable_causes == std::vector<std::string>{"the process exited"});
  CHECK(diagnosis.confidence == Approx(0.8));
  CHECK(diagnosis.automation == dx::Automation::auto_);
  REQUIRE(diagnosis.candidates.size() == 1);
  const auto& candidate = diagnosis.candidates[0];
  CHECK(candidate.action == "restart-service");
  CHECK(candidate.params == std::vector<protocol::Label>{{"unit", "web.service"}});
  CHECK(candidate.prior_success == Approx(0.9));
  CHECK(candidate.prior_weight == Approx(2));
  CHECK(candidate.risk == "low");
  CHECK(diagnosis.explanation ==
        "Rule crashed-service matched (rule process-down, label process=web).");
  // Without the `process` label the first rule fails and the second, also matching, wins.
  CHECK(dx::diagnose(rules, process_down({})).rule_id == "second");
}

TEST_CASE("diagnose tree: a child refines its parent and inherits what it does not override",
          "[diagnose]") {
  const auto rules = load(k_tree);
  auto input = process_down({{"process", "web"}, {"service", "shop"}});
  add_failed_restarts(input, 2);
  auto diagnosis = dx::diagnose(rules, input);
  CHECK(diagnosis.rule_id == "restart-failing");
  CHECK(diagnosis.root_cause == "failed-deployment");
  CHECK(diagnosis.probable_causes == std::vector<std::string>{"the process exited"});
  CHECK(diagnosis.confidence == Approx(0.8));
  CHECK(diagnosis.automation == dx::Automation::approve);
  REQUIRE(diagnosis.candidates.size() == 1);
  CHECK(diagnosis.candidates[0].action == "rollback-release");
  CHECK(diagnosis.candidates[0].prior_weight == Approx(4));
  CHECK(diagnosis.explanation ==
        "Rule crashed-service matched (rule process-down, label process=web), refined by "
        "restart-failing matched (2 recent restart-service failed).");

  input.log_rules = {"config-error"};
  diagnosis = dx::diagnose(rules, input);
  CHECK(diagnosis.rule_id == "restart-failing-config");
  CHECK(diagnosis.root_cause == "failed-deployment");
  CHECK(diagnosis.confidence == Approx(0.9));
  CHECK(diagnosis.candidates.at(0).action == "rollback-release");

  // One failed restart is not enough: the sibling that matches is taken instead.
  input.recent_recoveries.resize(1);
  input.log_rules = {"oom-killer"};
  diagnosis = dx::diagnose(rules, input);
  CHECK(diagnosis.rule_id == "out-of-memory");
  CHECK(diagnosis.root_cause == "crashed-service");
  CHECK(diagnosis.probable_causes == std::vector<std::string>{"the OOM killer ended it"});
  CHECK(diagnosis.candidates.at(0).params.at(0).value == "shop.service");
}

TEST_CASE("diagnose tree: no rule matches means needs-review, nothing to run", "[diagnose]") {
  const auto rules = load(k_tree);
  const auto input =
      incident_input("disk-full", Category::resource, Severity::critical, {{"mount", "/"}});
  const auto diagnosis = dx::diagnose(rules, input);
  CHECK(diagnosis.rule_id == dx::k_needs_review);
  CHECK(diagnosis.root_cause == dx::k_needs_review);
  CHECK(diagnosis.automation == dx::Automation::observe);
  CHECK(diagnosis.candidates.empty());
  CHECK(diagnosis.confidence == 0);
  CHECK(diagnosis.explanation ==
        "No rule matched (rule disk-full, category resource, severity critical).");
  CHECK(dx::diagnose(dx::RuleSet(), input).rule_id == dx::k_needs_review);
}

TEST_CASE("diagnose tree: a candidate whose label is missing is dropped, with the reason",
          "[diagnose]") {
  const auto rules = load(R"yaml(
rules:
  - id: restart
    when: {rule: endpoint-down}
    actions:
      - {action: restart-service, params: {unit: "{label:unit}"}}
      - {action: restart-service, params: {unit: "{label:unit|probe}"}}
      - {action: terminate-process, params: {name: "{service}"}}
      - {action: clean-tmp}
      - {action: literal, params: {text: "{{braces}} on {host} for {agent}"}}
)yaml");
  const auto input =
      incident_input("endpoint-down", Category::api, Severity::high, {{"probe", "api"}});
  const auto diagnosis = dx::diagnose(rules, input);
  REQUIRE(diagnosis.candidates.size() == 3);
  CHECK(diagnosis.candidates[0].params == std::vector<protocol::Label>{{"unit", "api"}});
  CHECK(diagnosis.candidates[1].action == "clean-tmp");
  CHECK(diagnosis.candidates[1].params.empty());
  CHECK(diagnosis.candidates[2].params.at(0).value == "{braces} on web-1 for web-1");
  CHECK(diagnosis.root_cause == "restart"); // defaults to the id
  CHECK(diagnosis.explanation ==
        "Rule restart matched (rule endpoint-down); candidate restart-service dropped: the "
        "incident has no label 'unit' (parameter unit); candidate terminate-process dropped: "
        "the incident has no service (parameter name).");
}

TEST_CASE("diagnose tree: an empty actions list in a child removes the parent's", "[diagnose]") {
  const auto rules = load(R"yaml(
rules:
  - id: parent
    actions: [{action: clean-tmp}]
    automation: auto
    then:
      - {id: child, when: {recent_incidents: {at_least: 2}}, actions: [], automation: observe}
)yaml");
  auto input = incident_input("disk-full", Category::resource, Severity::critical);
  CHECK(dx::diagnose(rules, input).candidates.size() == 1);
  input.recent_incidents = 2;
  const auto diagnosis = dx::diagnose(rules, input);
  CHECK(diagnosis.rule_id == "child");
  CHECK(diagnosis.candidates.empty());
  CHECK(diagnosis.automation == dx::Automation::observe);
}

TEST_CASE("diagnose automation words round-trip", "[diagnose]") {
  for (const auto automation :
       {dx::Automation::observe, dx::Automation::approve, dx::Automation::auto_}) {
    CHECK(dx::parse_automation(dx::to_string(automation)) == automation);
  }
  CHECK(dx::to_string(dx::Automation::auto_) == "auto");
  CHECK_FALSE(dx::parse_automation("always"));
}
