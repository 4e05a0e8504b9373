// SPDX-License-Identifier: Apache-2.0
// Builders for diagnosis inputs shaped like what the agent sends (rule ids, categories and
// labels of docs/rules.md) and a loader that fails the test with the error's text.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "coordinator/diagnose/rule_set.hpp"

namespace medic::test::diagnose {

namespace dx = medic::coordinator::diagnose;
namespace protocol = medic::protocol;

inline dx::DiagnosisInput incident_input(std::string rule, protocol::Category category,
                                         protocol::Severity severity,
                                         std::vector<protocol::Label> labels = {}) {
  dx::DiagnosisInput input;
  auto& incident = input.incident;
  incident.id = 7;
  incident.agent_id = "web-1";
  incident.host = "web-1";
  incident.rule = std::move(rule);
  incident.category = category;
  incident.severity = severity;
  incident.labels = std::move(labels);
  for (const auto& label : incident.labels) {
    if (label.name == "service") {
      incident.service = label.value;
    }
  }
  incident.first_seen_ms = 1'700'000'000'000;
  incident.last_seen_ms = incident.first_seen_ms;
  incident.count = 1;
  return input;
}

inline dx::RuleSet load(std::string_view yaml) {
  auto rules = dx::load_rules_text(yaml, "test.yaml");
  INFO((rules ? std::string() : rules.error().message()));
  REQUIRE(rules);
  return std::move(*rules);
}

// The error message of a rule text that must not load.
inline std::string load_error(std::string_view yaml) {
  auto rules = dx::load_rules_text(yaml, "bad.yaml");
  REQUIRE_FALSE(rules);
  return rules.error().message();
}

} // namespace medic::test::diagnose
