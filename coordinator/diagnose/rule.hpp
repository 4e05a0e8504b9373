// SPDX-License-Identifier: Apache-2.0
// A diagnosis rule as compiled from the rule file (docs/diagnosis.md): conditions, the
// conclusion, candidate action templates and the child rules that refine it. Built once by
// load_rules_*; read-only afterwards, so one RuleSet may be shared by threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/correlate/incident.hpp"
#include "coordinator/diagnose/diagnosis.hpp"
#include "protocol/message.hpp"

namespace re2 {
class RE2;
}

namespace medic::coordinator::diagnose {

// Levels of a rule tree: top-level rules are level 1.
inline constexpr std::size_t k_max_rule_depth = 8;

// `labels: {name: [globs]}`: the incident has label `name` with a value one glob matches
// ("*" = present with any value).
struct LabelCondition {
  std::string name;
  std::vector<std::string> values;
};

// One label of a metric condition: the sample's label `name` matches the glob `value`, or,
// when `incident_label` is set ("{label:mount}"), equals that label of the incident.
struct MetricLabel {
  std::string name;
  std::string value;
  std::string incident_label;
};

// A latest sample of the host named `name` (glob) with these labels, above and/or below.
struct MetricCondition {
  std::string name;
  std::vector<MetricLabel> labels;
  std::optional<double> above;
  std::optional<double> below;
};

struct CountRange {
  std::optional<std::uint32_t> at_least;
  std::optional<std::uint32_t> at_most;
};

// At least `at_least` recoveries on the host of an action one glob matches (none: any), with
// one of `statuses` (none: any), started at most `within_ms` before the incident's last signal
// (0: any time the engine still reports).
struct RecoveryCondition {
  std::vector<std::string> actions;
  std::vector<protocol::ResultStatus> statuses;
  std::uint32_t at_least = 1;
  std::int64_t within_ms = 0;
};

// A regular expression (RE2, unanchored) the incident's message must contain.
struct MessagePattern {
  std::string text;
  std::shared_ptr<const re2::RE2> compiled;
};

// `when:` of a rule. Every present condition must hold; each list holds when any element does.
struct Conditions {
  std::vector<protocol::Category> categories;
  std::vector<std::string> rules; // globs on the incident's signal rule id
  std::optional<protocol::Severity> severity_at_least;
  std::vector<correlate::IncidentKind> kinds;
  std::vector<std::string> services; // globs on Incident::service
  std::vector<std::string> hosts;    // globs on Incident::host
  std::vector<LabelCondition> labels;
  std::vector<MessagePattern> messages;
  std::vector<MetricCondition> metrics;
  std::vector<std::uint32_t> log_templates;
  std::vector<std::string> log_rules; // globs
  std::optional<CountRange> recent_incidents;
  std::vector<RecoveryCondition> recent_recoveries;
};

// A parameter value as pieces: literal text, or labels to insert (the first one the incident
// has, for "{label:unit|process}"); {service}, {host} and {agent} are the incident's fields.
struct TemplatePiece {
  enum class Kind : std::uint8_t { text, label, service, host, agent };
  Kind kind = Kind::text;
  std::string text;               // Kind::text
  std::vector<std::string> names; // Kind::label: alternatives, first present wins
};

struct ParamTemplate {
  std::string name;
  std::string source; // as written, for explanations
  std::vector<TemplatePiece> pieces;
};

struct ActionTemplate {
  std::string action;
  std::vector<ParamTemplate> params;
  double success_rate = 0.5;
  double prior_weight = 2;
  std::string risk; // '' = the agent's catalog says
};

struct Rule {
  std::string id;
  std::string where; // "file:line:column" of the rule, for messages about it
  Conditions when;
  // The conclusion. A child rule starts from its parent's and overrides what it gives.
  std::string root_cause;
  std::vector<std::string> causes;
  double confidence = 0.5;
  Automation automation = Automation::observe;
  std::vector<ActionTemplate> actions;
  std::vector<Rule> then; // refinements: the first matching child wins
};

} // namespace medic::coordinator::diagnose
