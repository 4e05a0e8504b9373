// SPDX-License-Identifier: Apache-2.0
// The heal_rules and heal.* keys.
#include "agent/heal/heal_config.hpp"

#include <charconv>
#include <cmath>

#include "agent/heal/label_template.hpp"

namespace medic::agent::heal {

namespace {

using namespace std::chrono_literals;
using medic::config::FieldKind;
using medic::config::Record;
using medic::config::RecordField;

constexpr std::int64_t k_max_attempts_limit = 1000;
constexpr double k_max_jitter = 0.9;

std::vector<RecordField> heal_rule_fields() {
  return {
      {"id", FieldKind::text, true, "the rule's id, written to the audit trail", {}},
      {"on_rule", FieldKind::text, true, "the detector rule (rules/log_rules id) it answers", {}},
      {"match", FieldKind::text_map, false, "only signals with these label values", {}},
      {"action", FieldKind::text, true, "the catalog action to run", {}},
      {"params",
       FieldKind::text_map,
       false,
       "the action's parameters; \"{label:NAME}\" inserts the signal's label NAME",
       {}},
      {"always", FieldKind::boolean, false, "act even while the coordinator is reachable", {}},
      {"max_attempts", FieldKind::integer, false, "overrides heal.max_attempts", {}},
  };
}

Result<HealRule> heal_rule(const Record& r) {
  HealRule rule;
  rule.id = r.text("id");
  rule.on_rule = r.text("on_rule");
  rule.match = r.text_map("match");
  rule.action = r.text("action");
  rule.params = r.text_map("params");
  rule.always = r.boolean("always");
  for (const auto& [name, value] : {std::pair{"id", &rule.id}, std::pair{"on_rule", &rule.on_rule},
                                    std::pair{"action", &rule.action}}) {
    if (value->empty()) {
      return fail(r.error(std::string(name) + " must not be empty"));
    }
  }
  if (r.has("max_attempts")) {
    const std::int64_t max = r.integer("max_attempts");
    if (max < 1 || max > k_max_attempts_limit) {
      return fail(r.error("max_attempts must be 1..1000"));
    }
    rule.max_attempts = static_cast<std::uint32_t>(max);
  }
  for (const auto& [name, value] : rule.params) {
    if (auto valid = check_label_template(value); !valid) {
      return fail(r.error("params." + name + ": " + valid.error().message()));
    }
  }
  return rule;
}

Result<void> parse_jitter(const std::string& text, double& jitter) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value) || value < 0 ||
      value > k_max_jitter) {
    return fail(ErrorCode::config, "'" + text + "' is not a number from 0 to 0.9");
  }
  jitter = value;
  return {};
}

void add_budget_keys(config::Schema& schema, HealConfig& config) {
  BudgetSettings& b = config.budget;
  schema.add_duration("heal.backoff_base", b.backoff_base, 100ms, 1h,
                      "Wait after a first local attempt; doubles with each further attempt");
  schema.add_duration("heal.backoff_max", b.backoff_max, 1s, 24h,
                      "The longest wait between two attempts (before jitter)");
  schema.add_string(
      "heal.jitter", config.jitter_text,
      "Each wait is multiplied by a random factor in [1 - jitter, 1 + jitter] (0 to 0.9)",
      [&b](const std::string& text) { return parse_jitter(text, b.jitter); });
  schema.add_integer<std::uint32_t>("heal.max_attempts", b.max_attempts, 1, k_max_attempts_limit,
                                    "Attempts per target and action within heal.window; then "
                                    "the agent stops and marks the target as needing a person");
  schema.add_duration("heal.window", b.window, 1s, 7 * 24h,
                      "The window heal.max_attempts is counted in");
  schema.add_duration("heal.healthy_for", b.healthy_for, 1s, 24h,
                      "How long a target must stay healthy (its signal cleared and not fired "
                      "again) before its attempts and backoff reset; an action exiting 0 never "
                      "resets them");
  schema.add_integer<std::uint32_t>("heal.flap_cycles", b.flap_cycles, 1, 100,
                                    "More fire->clear cycles than this within heal.flap_window "
                                    "is flapping: no action, the target needs a person");
  schema.add_duration("heal.flap_window", b.flap_window, 1s, 24h,
                      "The window heal.flap_cycles is counted in");
}

} // namespace

void add_heal_keys(config::Schema& schema, HealConfig& config) {
  schema.add_records("heal_rules", heal_rule_fields(),
                     "Local healing: the action to run when a detector rule fires and the "
                     "coordinator is unreachable (or always, for rules marked so)",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       config.rules.clear();
                       for (const auto& r : records) {
                         auto rule = heal_rule(r);
                         if (!rule) {
                           return fail(std::move(rule).error());
                         }
                         config.rules.push_back(std::move(*rule));
                       }
                       return {};
                     });
  schema.add_duration("heal.fallback_after", config.fallback_after, 0ms, 1h,
                      "Heal locally once the coordinator has been unreachable this long");
  schema.add_bool("heal.dry_run", config.dry_run,
                  "Decide and record every local action, but run none");
  add_budget_keys(schema, config);
}

Result<void> check_heal_rules(const HealConfig& config,
                              const std::function<bool(std::string_view action)>& action_exists) {
  if (config.budget.backoff_base > config.budget.backoff_max) {
    return fail(ErrorCode::config, "heal.backoff_base must not exceed heal.backoff_max");
  }
  for (std::size_t i = 0; i < config.rules.size(); ++i) {
    const HealRule& rule = config.rules[i];
    const std::string where = "heal_rules: rule '" + rule.id + "'";
    for (std::size_t j = 0; j < i; ++j) {
      if (config.rules[j].id == rule.id) {
        return fail(ErrorCode::config, where + ": the id is used twice");
      }
    }
    if (action_exists && !action_exists(rule.action)) {
      return fail(ErrorCode::config,
                  where + ": action '" + rule.action + "' is not in the catalog");
    }
    for (const auto& [name, value] : rule.params) {
      if (auto valid = check_label_template(value); !valid) {
        return fail(ErrorCode::config, where + ": params." + name + ": " + valid.error().message());
      }
    }
  }
  return {};
}

} // namespace medic::agent::heal
