// SPDX-License-Identifier: Apache-2.0
// The `rules` and `log_rules` keys, and the merge with the built-in set.
#include <algorithm>

#include "agent/config/sensing_config.hpp"

namespace medic::agent::config {

namespace {

using namespace std::chrono_literals;
using medic::config::FieldKind;
using medic::config::Record;
using medic::config::RecordField;
namespace d = medic::detect;
using detect::DetectorSpec;

const std::vector<std::string> k_severities = {"critical", "high", "medium", "low", "info"};
const std::vector<std::string> k_categories = {"authentication", "database",    "api",
                                               "performance",    "integration", "resource",
                                               "configuration",  "network"};

std::vector<RecordField> metric_rule_fields() {
  return {
      {"id", FieldKind::text, true, "the rule's id, sent with its signals", {}},
      {"metric", FieldKind::text, true, "the sampled metric, e.g. disk.used_pct", {}},
      {"kind",
       FieldKind::choice,
       true,
       "the detector",
       {"threshold", "rate", "trend", "leak", "anomaly"}},
      {"match", FieldKind::text_map, false, "only series with these labels", {}},
      {"severity", FieldKind::choice, false, "default medium", k_severities},
      {"category", FieldKind::choice, false, "default resource", k_categories},
      {"summary", FieldKind::text, false, "for people, in the signal's message", {}},
      {"max_series", FieldKind::integer, false, "series watched at most (default 64)", {}},
      {"above", FieldKind::number, false, "threshold/rate: fire above this", {}},
      {"below", FieldKind::number, false, "threshold/rate: fire below this", {}},
      {"clear", FieldKind::number, false, "threshold/rate: clear level (hysteresis)", {}},
      {"for", FieldKind::duration, false, "threshold/rate: must hold this long", {}},
      {"clear_for", FieldKind::duration, false, "clear must hold this long", {}},
      {"window", FieldKind::duration, false, "rate/trend/leak: the window looked at", {}},
      {"counter", FieldKind::boolean, false, "rate: the metric is a counter", {}},
      {"limit", FieldKind::number, false, "trend: the level that means exhausted", {}},
      {"approach",
       FieldKind::choice,
       false,
       "trend: rising or falling to the limit",
       {"rising", "falling"}},
      {"horizon", FieldKind::duration, false, "trend: fire when the limit is this close", {}},
      {"min_span", FieldKind::duration, false, "trend/leak: history needed before judging", {}},
      {"min_growth", FieldKind::size, false, "leak: growth over the window (default 32MiB)", {}},
      {"min_growth_pct", FieldKind::number, false, "leak: growth in % (default 10)", {}},
      {"fire_score", FieldKind::number, false, "anomaly: score that fires (0..1)", {}},
      {"clear_score", FieldKind::number, false, "anomaly: score that clears (0..1)", {}},
  };
}

Result<DetectorSpec> threshold_spec(const Record& r) {
  if (r.has("above") == r.has("below")) {
    return fail(r.error("a " + r.text("kind") + " rule needs exactly one of 'above' and 'below'"));
  }
  const bool above = r.has("above");
  const double level = above ? r.number("above") : r.number("below");
  const d::Compare compare = above ? d::Compare::above : d::Compare::below;
  if (r.text("kind") == "rate") {
    d::RateSpec spec;
    spec.compare = compare;
    spec.fire_level = level;
    spec.clear_level = r.optional_number("clear");
    spec.window = r.duration("window", spec.window);
    spec.for_duration = r.duration("for", 0ms);
    spec.clear_for = r.duration("clear_for", 0ms);
    spec.kind = r.boolean("counter") ? d::SeriesKind::counter : d::SeriesKind::gauge;
    return DetectorSpec(spec);
  }
  d::ThresholdSpec spec;
  spec.compare = compare;
  spec.fire_level = level;
  spec.clear_level = r.optional_number("clear");
  spec.for_duration = r.duration("for", 0ms);
  spec.clear_for = r.duration("clear_for", 0ms);
  return DetectorSpec(spec);
}

Result<DetectorSpec> detector_spec(const Record& r) {
  const std::string kind = r.text("kind");
  if (kind == "threshold" || kind == "rate") {
    return threshold_spec(r);
  }
  if (kind == "trend") {
    d::TrendSpec spec;
    spec.limit = r.number("limit", spec.limit);
    spec.approach =
        r.text("approach", "rising") == "rising" ? d::Approach::rising : d::Approach::falling;
    spec.horizon = r.duration("horizon", spec.horizon);
    spec.window = r.duration("window", spec.window);
    spec.min_span = r.duration("min_span", spec.min_span);
    return DetectorSpec(spec);
  }
  if (kind == "leak") {
    d::LeakSpec spec;
    spec.window = r.duration("window", spec.window);
    spec.min_span = r.duration("min_span", std::min(spec.min_span, spec.window));
    spec.min_growth_bytes = static_cast<double>(
        r.size("min_growth", static_cast<std::uint64_t>(spec.min_growth_bytes)));
    spec.min_growth_percent = r.number("min_growth_pct", spec.min_growth_percent);
    return DetectorSpec(spec);
  }
  d::AnomalySpec spec;
  spec.fire_score = r.number("fire_score", spec.fire_score);
  spec.clear_score = r.number("clear_score", spec.clear_score);
  spec.clear_for = r.duration("clear_for", spec.clear_for);
  return DetectorSpec(spec);
}

Result<detect::MetricRule> metric_rule(const Record& r) {
  detect::MetricRule rule;
  rule.id = r.text("id");
  rule.metric = r.text("metric");
  rule.match = r.text_map("match");
  rule.severity = protocol::parse_severity(r.text("severity", "medium")).value();
  rule.category = protocol::parse_category(r.text("category", "resource")).value();
  rule.summary = r.text("summary");
  const std::int64_t max_series = r.integer("max_series", 64);
  if (max_series < 1 || max_series > 4096) {
    return fail(r.error("max_series must be 1..4096"));
  }
  rule.max_series = static_cast<std::size_t>(max_series);
  auto spec = detector_spec(r);
  if (!spec) {
    return fail(std::move(spec).error());
  }
  rule.spec = std::move(*spec);
  auto valid = std::visit([](const auto& s) { return s.validate(); }, rule.spec);
  if (!valid) {
    return fail(r.error(valid.error().message()));
  }
  return rule;
}

std::vector<RecordField> log_rule_fields() {
  return {
      {"id", FieldKind::text, true, "the rule's id, sent with its signals and events", {}},
      {"pattern", FieldKind::text, true, "RE2 pattern; (?P<name>...) groups become labels", {}},
      {"ignore_case", FieldKind::boolean, false, "match without case", {}},
      {"sources", FieldKind::text_list, false, "only these log sources (default all)", {}},
      {"count", FieldKind::integer, false, "matches within the window that fire (default 1)", {}},
      {"window", FieldKind::duration, false, "default 1m", {}},
      {"quiet", FieldKind::duration, false, "below the count this long to clear (default 1m)", {}},
      {"severity", FieldKind::choice, false, "default medium", k_severities},
      {"category", FieldKind::choice, false, "default resource", k_categories},
      {"summary", FieldKind::text, false, "for people", {}},
  };
}

Result<LogRuleConfig> log_rule(const Record& r) {
  LogRuleConfig rule;
  rule.id = r.text("id");
  rule.pattern = r.text("pattern");
  rule.ignore_case = r.boolean("ignore_case");
  rule.sources = r.text_list("sources");
  const std::int64_t count = r.integer("count", 1);
  if (count < 1 || count > 10'000) {
    return fail(r.error("count must be 1..10000"));
  }
  rule.count = static_cast<std::uint32_t>(count);
  rule.window = r.duration("window", 1min);
  rule.quiet = r.duration("quiet", 1min);
  rule.severity = protocol::parse_severity(r.text("severity", "medium")).value();
  rule.category = protocol::parse_category(r.text("category", "resource")).value();
  rule.summary = r.text("summary");
  return rule;
}

// Replaces the rule with the same id, else appends.
template <class Rule>
void merge_rule(std::vector<Rule>& into, Rule rule) {
  const auto same = std::find_if(into.begin(), into.end(),
                                 [&](const Rule& existing) { return existing.id == rule.id; });
  if (same != into.end()) {
    *same = std::move(rule);
  } else {
    into.push_back(std::move(rule));
  }
}

template <class Rule>
Result<void> unique_ids(const std::vector<Rule>& rules, std::string_view key) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    for (std::size_t j = i + 1; j < rules.size(); ++j) {
      if (rules[i].id == rules[j].id) {
        return fail(ErrorCode::config,
                    std::string(key) + ": rule id '" + rules[i].id + "' is used twice");
      }
    }
  }
  return {};
}

} // namespace

void add_rule_keys(medic::config::Schema& schema, SensingConfig& config) {
  schema.add_bool("default_rules", config.default_rules,
                  "Start from the built-in rules (docs/rules.md); `rules` and `log_rules` add to "
                  "them, and replace one with the same id");
  schema.add_records("rules", metric_rule_fields(), "Detectors on sampled metrics",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       config.rules.clear();
                       for (const auto& r : records) {
                         auto rule = metric_rule(r);
                         if (!rule) {
                           return fail(std::move(rule).error());
                         }
                         config.rules.push_back(std::move(*rule));
                       }
                       return unique_ids(config.rules, "rules");
                     });
  schema.add_records("log_rules", log_rule_fields(), "Patterns on followed log lines",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       config.log_rules.clear();
                       for (const auto& r : records) {
                         auto rule = log_rule(r);
                         if (!rule) {
                           return fail(std::move(rule).error());
                         }
                         config.log_rules.push_back(std::move(*rule));
                       }
                       return unique_ids(config.log_rules, "log_rules");
                     });
}

Result<void> finish_sensing(SensingConfig& config) {
  if (config.default_rules) {
    SensingConfig built_in;
    medic::config::Schema schema("MEDIC_AGENT_");
    add_rule_keys(schema, built_in);
    if (auto loaded = schema.load_text(default_rules_yaml(), "built-in rules"); !loaded) {
      return loaded; // a bug in default_rules.cpp; the unit tests load it
    }
    for (auto& rule : config.rules) {
      merge_rule(built_in.rules, std::move(rule));
    }
    for (auto& rule : config.log_rules) {
      merge_rule(built_in.log_rules, std::move(rule));
    }
    config.rules = std::move(built_in.rules);
    config.log_rules = std::move(built_in.log_rules);
    config.default_rules = false; // merged: finishing twice must not merge again
  }
  const auto is_file_source = [&](std::string_view name) {
    return std::any_of(config.tail.sources.begin(), config.tail.sources.end(),
                       [&](const auto& s) { return s.name == name; });
  };
  if (config.kernel_log && is_file_source(k_kernel_source)) {
    return fail(ErrorCode::config,
                "logs.sources: the name 'kernel' is the kernel's log "
                "(logs.kernel: true); name this source otherwise");
  }
  for (const auto& rule : config.log_rules) {
    for (const auto& source : rule.sources) {
      const bool kernel = config.kernel_log && source == k_kernel_source;
      if (!kernel && !is_file_source(source)) {
        return fail(ErrorCode::config, "log_rules: rule '" + rule.id + "' names source '" + source +
                                           "', which logs.sources does not define" +
                                           (source == k_kernel_source && !config.kernel_log
                                                ? " (the kernel's log needs logs.kernel: true)"
                                                : ""));
      }
    }
  }
  const std::pair<std::string_view, Result<void>> checks[] = {
      {"disk", config.disk.validate()},       {"disk_io", config.disk_io.validate()},
      {"network", config.network.validate()}, {"processes", config.processes.validate()},
      {"files", config.files.validate()},     {"logs.sources", tail::validate(config.tail)},
  };
  for (const auto& [key, check] : checks) {
    if (!check) {
      return fail(Error(check.error()).context(std::string(key)));
    }
  }
  return {};
}

} // namespace medic::agent::config
