// SPDX-License-Identifier: Apache-2.0
// diagnose(): walk the rule tree down the first matching rule at each level, then build the
// Diagnosis of the deepest one. Matching allocates nothing; the explanation is built only for
// the path that won, by evaluating its conditions a second time with notes on.
#include <array>

#include "coordinator/diagnose/rule_match.hpp"
#include "coordinator/diagnose/rule_set.hpp"

namespace medic::coordinator::diagnose {

namespace {

using Path = std::array<const Rule*, k_max_rule_depth>;

const Rule* first_match(const std::vector<Rule>& rules, const DiagnosisInput& input) {
  for (const auto& rule : rules) {
    if (detail::conditions_hold(rule.when, input, nullptr)) {
      return &rule;
    }
  }
  return nullptr;
}

// The value of one piece; false (with the missing name in `missing`) when the incident lacks it.
bool expand_piece(const TemplatePiece& piece, const correlate::Incident& incident, std::string& out,
                  std::string& missing) {
  using Kind = TemplatePiece::Kind;
  const std::string* value = nullptr;
  switch (piece.kind) {
  case Kind::text: out += piece.text; return true;
  case Kind::service: value = &incident.service; break;
  case Kind::host: value = &incident.host; break;
  case Kind::agent: value = &incident.agent_id; break;
  case Kind::label:
    for (const auto& name : piece.names) {
      value = detail::incident_label(incident, name);
      if (value != nullptr && !value->empty()) {
        break;
      }
    }
    break;
  }
  if (value == nullptr || value->empty()) {
    missing = piece.kind == Kind::label     ? "label '" + piece.names.front() + "'"
              : piece.kind == Kind::service ? std::string("service")
              : piece.kind == Kind::host    ? std::string("host")
                                            : std::string("agent");
    return false;
  }
  out += *value;
  return true;
}

// The candidate with its parameters expanded; false and `missing` set when one cannot be.
bool expand(const ActionTemplate& action, const correlate::Incident& incident, Candidate& out,
            std::string& missing) {
  out.action = action.action;
  out.prior_success = action.success_rate;
  out.prior_weight = action.prior_weight;
  out.risk = action.risk;
  out.params.reserve(action.params.size());
  for (const auto& param : action.params) {
    protocol::Label& label = out.params.emplace_back(protocol::Label{param.name, {}});
    for (const auto& piece : param.pieces) {
      if (!expand_piece(piece, incident, label.value, missing)) {
        missing += " (parameter " + param.name + ")";
        return false;
      }
    }
  }
  return true;
}

void explain_path(const Path& path, std::size_t depth, const DiagnosisInput& input,
                  std::string& text) {
  for (std::size_t level = 0; level < depth; ++level) {
    text += level == 0 ? "Rule " : ", refined by ";
    text += path[level]->id;
    text += " matched (";
    const std::size_t before = text.size();
    (void)detail::conditions_hold(path[level]->when, input, &text);
    if (text.size() == before) {
      text += "no conditions";
    }
    text += ")";
  }
}

Diagnosis conclude(const Path& path, std::size_t depth, const DiagnosisInput& input) {
  const Rule& rule = *path[depth - 1];
  Diagnosis diagnosis;
  diagnosis.rule_id = rule.id;
  diagnosis.root_cause = rule.root_cause;
  diagnosis.probable_causes = rule.causes;
  diagnosis.confidence = rule.confidence;
  diagnosis.automation = rule.automation;
  diagnosis.explanation.reserve(192); // one sentence; saves the growth steps
  explain_path(path, depth, input, diagnosis.explanation);
  diagnosis.candidates.reserve(rule.actions.size());
  for (const auto& action : rule.actions) {
    Candidate candidate;
    std::string missing;
    if (expand(action, input.incident, candidate, missing)) {
      diagnosis.candidates.push_back(std::move(candidate));
    } else {
      diagnosis.explanation +=
          "; candidate " + action.action + " dropped: the incident has no " + missing;
    }
  }
  diagnosis.explanation += ".";
  return diagnosis;
}

Diagnosis needs_review(const DiagnosisInput& input) {
  Diagnosis diagnosis;
  diagnosis.rule_id = k_needs_review;
  diagnosis.root_cause = k_needs_review;
  diagnosis.automation = Automation::observe;
  diagnosis.explanation = "No rule matched (rule " + input.incident.rule + ", category " +
                          std::string(protocol::to_string(input.incident.category)) +
                          ", severity " +
                          std::string(protocol::to_string(input.incident.severity)) + ").";
  return diagnosis;
}

} // namespace

Diagnosis diagnose(const RuleSet& rules, const DiagnosisInput& input) {
  Path path{};
  std::size_t depth = 0;
  const std::vector<Rule>* level = &rules.rules();
  while (depth < path.size()) {
    const Rule* hit = first_match(*level, input);
    if (hit == nullptr) {
      break;
    }
    path[depth++] = hit;
    level = &hit->then;
  }
  return depth == 0 ? needs_review(input) : conclude(path, depth, input);
}

} // namespace medic::coordinator::diagnose
