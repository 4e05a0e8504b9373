// SPDX-License-Identifier: Apache-2.0
// The diagnosis engine: an ordered list of rules (a decision tree) loaded from YAML
// (docs/diagnosis.md), and diagnose(), a pure function of the rules and what is known about an
// incident's host. Loading compiles everything (globs kept as text, message patterns as RE2,
// parameter templates as pieces), so diagnose() allocates only the Diagnosis it returns.
// A RuleSet is immutable once loaded: any thread may call diagnose() on it at the same time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/correlate/incident.hpp"
#include "coordinator/diagnose/diagnosis.hpp"
#include "coordinator/diagnose/rule.hpp"
#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::diagnose {

struct MetricValue {
  std::string name;
  std::string labels; // canonical "k=v,..." (names sorted)
  double value = 0;
};

struct RecentRecovery {
  std::string action;
  protocol::ResultStatus status = protocol::ResultStatus::succeeded;
  std::int64_t time_ms = 0; // Unix ms the recovery started
};

struct DiagnosisInput {
  correlate::Incident incident;
  std::vector<MetricValue> metrics;              // the host's latest samples
  std::vector<std::uint32_t> log_templates;      // template ids of the host's recent log events
  std::vector<std::string> log_rules;            // log rules that matched recently on the host
  std::uint32_t recent_incidents = 0;            // on the host within DiagnoseConfig::recent_window
  std::vector<RecentRecovery> recent_recoveries; // on the host, newest first
};

class RuleSet {
public:
  RuleSet() = default; // no rules: every incident needs review
  RuleSet(std::vector<Rule> rules, std::string origin)
      : m_rules(std::move(rules)), m_origin(std::move(origin)) {}

  [[nodiscard]] const std::vector<Rule>& rules() const noexcept { return m_rules; }
  [[nodiscard]] const std::string& origin() const noexcept { return m_origin; }
  // Every rule of the tree, children included.
  [[nodiscard]] std::size_t size() const noexcept;

private:
  std::vector<Rule> m_rules;
  std::string m_origin;
};

// The file must hold `rules:` (a list); errors read "file:line:column: rule 'id': what".
[[nodiscard]] Result<RuleSet> load_rules_file(const std::filesystem::path& path);
// `origin` names the text in errors (a file name, "<backtest>").
[[nodiscard]] Result<RuleSet> load_rules_text(std::string_view text, std::string_view origin);

// The first top-level rule whose conditions hold, refined by the first matching child at each
// level down. No rule → rule_id and root_cause "needs-review", no candidates. Candidates whose
// parameters name a label the incident lacks are dropped; the explanation says so.
[[nodiscard]] Diagnosis diagnose(const RuleSet& rules, const DiagnosisInput& input);

} // namespace medic::coordinator::diagnose
