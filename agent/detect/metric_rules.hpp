// SPDX-License-Identifier: Apache-2.0
// Metric rules: each sampled value is offered to the rules that watch its metric name; a rule
// keeps one detector per series (label set) it sees, up to max_series, and turns the detector's
// fire and clear into protocol signals with the rule's id, severity, category and a fingerprint.
//
// Series are found without allocating: a rule's series are kept in a small vector keyed by a
// hash of the labels the rule cares about (all of the sample's labels), compared in full on a
// hash hit. A new series allocates its detector (bounded by max_series; more are counted and
// ignored). Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/message.hpp"
#include "shared/detect/anomaly_detector.hpp"
#include "shared/detect/leak_detector.hpp"
#include "shared/detect/rate_detector.hpp"
#include "shared/detect/threshold_detector.hpp"
#include "shared/detect/trend_detector.hpp"
#include "shared/error.hpp"

namespace medic::agent::detect {

using DetectorSpec =
    std::variant<medic::detect::ThresholdSpec, medic::detect::RateSpec, medic::detect::TrendSpec,
                 medic::detect::LeakSpec, medic::detect::AnomalySpec>;

struct MetricRule {
  std::string id;     // e.g. "disk-almost-full"; a name (no control characters)
  std::string metric; // a metric name from sample_sink.hpp, e.g. "disk.used_pct"
  // Only series whose labels include all of these (exact values) are watched; empty: all.
  std::map<std::string, std::string> match;
  protocol::Severity severity = protocol::Severity::medium;
  protocol::Category category = protocol::Category::resource;
  DetectorSpec spec;
  std::size_t max_series = 64;
  // A human summary shown in the signal's message, e.g. "disk almost full".
  std::string summary;
};

[[nodiscard]] std::string_view kind_name(const DetectorSpec& spec) noexcept;

// What a rule produced: valid during the callback only.
using SignalOut = std::function<void(const protocol::SignalView& signal)>;

struct MetricRuleCounters {
  std::uint64_t samples_seen = 0;   // samples offered to at least one rule
  std::uint64_t series_refused = 0; // over a rule's max_series
  std::uint64_t fires = 0;
  std::uint64_t clears = 0;
};

class MetricRules {
public:
  // Validates every rule (ids unique and well-formed, specs valid) with errors naming the rule.
  [[nodiscard]] static Result<MetricRules> create(std::vector<MetricRule> rules);

  MetricRules(MetricRules&&) noexcept;
  MetricRules& operator=(MetricRules&&) noexcept;
  ~MetricRules();

  // One sample. `wall_ms` stamps the signal; `mono_ms` drives the detectors' durations.
  void observe(std::string_view name, double value, std::int64_t wall_ms, std::int64_t mono_ms,
               std::span<const protocol::LabelView> labels, const SignalOut& out) noexcept;

  [[nodiscard]] const MetricRuleCounters& counters() const noexcept { return m_counters; }
  [[nodiscard]] std::size_t rule_count() const noexcept;
  // Series being watched, over all rules.
  [[nodiscard]] std::size_t series_count() const noexcept;

private:
  struct Rule;
  MetricRules() = default;

  std::vector<std::unique_ptr<Rule>> m_rules;
  // (metric, rule) sorted by metric, rules in config order within one.
  std::vector<std::pair<std::string_view, Rule*>> m_by_metric;
  // Each metric with rules: where its run in m_by_metric starts and how long it is. An open
  // addressing table (a power of two, at most half full) hashed by name: a sample finds its
  // rules, or learns it has none (most samples), with one hash and one comparison.
  struct MetricSlot {
    std::string_view metric; // empty: a free slot
    std::uint32_t first = 0;
    std::uint32_t count = 0;
  };
  std::vector<MetricSlot> m_slots;
  [[nodiscard]] const MetricSlot* find_metric(std::string_view name) const noexcept;
  MetricRuleCounters m_counters;
};

// 16 hex digits identifying (rule, labels): stable across restarts and agents, so the same
// problem on the same series always has the same fingerprint. Labels are hashed in name order.
[[nodiscard]] std::string fingerprint(std::string_view rule_id,
                                      std::span<const protocol::LabelView> labels);

} // namespace medic::agent::detect
