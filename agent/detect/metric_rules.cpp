// SPDX-License-Identifier: Apache-2.0
#include "agent/detect/metric_rules.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>

namespace medic::agent::detect {

namespace d = medic::detect;

namespace {

constexpr std::uint64_t k_fnv_offset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t k_fnv_prime = 0x100000001b3ULL;
constexpr std::size_t k_max_labels = 16;

std::uint64_t fnv(std::uint64_t hash, std::string_view text) noexcept {
  for (const char c : text) {
    hash = (hash ^ static_cast<unsigned char>(c)) * k_fnv_prime;
  }
  return (hash ^ 0xff) * k_fnv_prime; // a separator, so ("ab","c") != ("a","bc")
}

// Labels in name order, without allocating (at most k_max_labels are considered).
std::size_t sorted_labels(std::span<const protocol::LabelView> labels,
                          std::array<const protocol::LabelView*, k_max_labels>& out) noexcept {
  const std::size_t count = std::min(labels.size(), k_max_labels);
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = &labels[i];
  }
  std::sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(count),
            [](const auto* a, const auto* b) { return a->name < b->name; });
  return count;
}

std::uint64_t label_hash(std::span<const protocol::LabelView> labels) noexcept {
  std::array<const protocol::LabelView*, k_max_labels> sorted{};
  const std::size_t count = sorted_labels(labels, sorted);
  std::uint64_t hash = k_fnv_offset;
  for (std::size_t i = 0; i < count; ++i) {
    hash = fnv(fnv(hash, sorted[i]->name), sorted[i]->value);
  }
  return hash;
}

bool valid_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= protocol::Limits::k_max_name_bytes &&
         std::none_of(name.begin(), name.end(), [](char c) {
           return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ';
         });
}

// Each detector has an allocation of its own size: in place, every series would take the size of
// the largest kind (the anomaly detector's 2 KiB), though most are 120-byte thresholds.
using Detector =
    std::variant<std::unique_ptr<d::ThresholdDetector>, std::unique_ptr<d::RateDetector>,
                 std::unique_ptr<d::TrendDetector>, std::unique_ptr<d::LeakDetector>,
                 std::unique_ptr<d::AnomalyDetector>>;

Detector make_detector(const DetectorSpec& spec) {
  return std::visit(
      [](const auto& s) -> Detector {
        using Spec = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<Spec, d::ThresholdSpec>) {
          return std::make_unique<d::ThresholdDetector>(s);
        } else if constexpr (std::is_same_v<Spec, d::RateSpec>) {
          return std::make_unique<d::RateDetector>(s);
        } else if constexpr (std::is_same_v<Spec, d::TrendSpec>) {
          return std::make_unique<d::TrendDetector>(s);
        } else if constexpr (std::is_same_v<Spec, d::LeakSpec>) {
          return std::make_unique<d::LeakDetector>(s);
        } else {
          return std::make_unique<d::AnomalyDetector>(s);
        }
      },
      spec);
}

// The figure a signal carries: what the detector judged.
double figure(const Detector& detector, double value) noexcept {
  return std::visit(
      [value](const auto& held) -> double {
        const auto& det = *held;
        using Det = std::decay_t<decltype(det)>;
        if constexpr (std::is_same_v<Det, d::ThresholdDetector>) {
          return value;
        } else if constexpr (std::is_same_v<Det, d::RateDetector>) {
          return det.rate().value_or(0);
        } else if constexpr (std::is_same_v<Det, d::TrendDetector>) {
          return det.predicted_seconds().value_or(0);
        } else if constexpr (std::is_same_v<Det, d::LeakDetector>) {
          return det.slope_per_second().value_or(0);
        } else {
          return det.score();
        }
      },
      detector);
}

const char* figure_text(const DetectorSpec& spec) noexcept {
  switch (spec.index()) {
  case 1: return "rate/s";
  case 2: return "seconds to limit";
  case 3: return "growth/s";
  case 4: return "anomaly score";
  default: return "value";
  }
}

} // namespace

std::string_view kind_name(const DetectorSpec& spec) noexcept {
  static constexpr std::array<std::string_view, 5> k_names{"threshold", "rate", "trend", "leak",
                                                           "anomaly"};
  return k_names[spec.index()];
}

std::string fingerprint(std::string_view rule_id, std::span<const protocol::LabelView> labels) {
  const std::uint64_t hash = fnv(label_hash(labels), rule_id);
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

struct MetricRules::Rule {
  struct Series {
    std::uint64_t hash = 0;
    std::vector<std::pair<std::string, std::string>> labels; // as first seen, for equality
    std::string fingerprint;
    Detector detector;
  };

  MetricRule spec;
  std::vector<Series> series;

  [[nodiscard]] bool matches(std::span<const protocol::LabelView> labels) const noexcept {
    return std::all_of(spec.match.begin(), spec.match.end(), [&](const auto& wanted) {
      return std::any_of(labels.begin(), labels.end(), [&](const protocol::LabelView& label) {
        return label.name == wanted.first && label.value == wanted.second;
      });
    });
  }

  static bool same_labels(const Series& s, std::span<const protocol::LabelView> labels) noexcept {
    if (s.labels.size() != labels.size()) {
      return false;
    }
    return std::all_of(labels.begin(), labels.end(), [&](const protocol::LabelView& label) {
      return std::any_of(s.labels.begin(), s.labels.end(), [&](const auto& kept) {
        return kept.first == label.name && kept.second == label.value;
      });
    });
  }

  Series* find_or_add(std::span<const protocol::LabelView> labels, MetricRuleCounters& counters) {
    const std::uint64_t hash = label_hash(labels);
    for (auto& s : series) {
      if (s.hash == hash && same_labels(s, labels)) {
        return &s;
      }
    }
    if (series.size() >= spec.max_series) {
      ++counters.series_refused;
      return nullptr;
    }
    Series added{hash, {}, fingerprint(spec.id, labels), make_detector(spec.spec)};
    for (const auto& label : labels) {
      added.labels.emplace_back(label.name, label.value);
    }
    series.push_back(std::move(added));
    return &series.back();
  }
};

Result<MetricRules> MetricRules::create(std::vector<MetricRule> rules) {
  MetricRules built;
  for (auto& rule : rules) {
    const std::string where = "rule '" + rule.id + "'";
    if (!valid_name(rule.id)) {
      return fail(ErrorCode::invalid_argument,
                  "rule id '" + rule.id + "' must be 1-128 characters without spaces");
    }
    if (!valid_name(rule.metric)) {
      return fail(ErrorCode::invalid_argument, where + ": metric must be a metric name");
    }
    for (const auto& other : built.m_rules) {
      if (other->spec.id == rule.id) {
        return fail(ErrorCode::invalid_argument, where + ": the id is used twice");
      }
    }
    if (rule.max_series == 0 || rule.max_series > 4096) {
      return fail(ErrorCode::invalid_argument, where + ": max_series must be 1..4096");
    }
    auto valid = std::visit([](const auto& spec) { return spec.validate(); }, rule.spec);
    if (!valid) {
      return fail(std::move(valid).error().context(where));
    }
    auto added = std::make_unique<Rule>();
    added->spec = std::move(rule);
    built.m_rules.push_back(std::move(added));
  }
  for (const auto& rule : built.m_rules) {
    built.m_by_metric.emplace_back(rule->spec.metric, rule.get());
  }
  std::stable_sort(built.m_by_metric.begin(), built.m_by_metric.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t slots = 8;
  while (slots < 2 * built.m_by_metric.size()) {
    slots *= 2;
  }
  built.m_slots.resize(slots);
  for (std::size_t i = 0; i < built.m_by_metric.size();) {
    const std::string_view metric = built.m_by_metric[i].first;
    std::size_t end = i + 1;
    while (end < built.m_by_metric.size() && built.m_by_metric[end].first == metric) {
      ++end;
    }
    std::size_t at = std::hash<std::string_view>{}(metric) & (slots - 1);
    while (!built.m_slots[at].metric.empty()) {
      at = (at + 1) & (slots - 1);
    }
    built.m_slots[at] = {metric, static_cast<std::uint32_t>(i),
                         static_cast<std::uint32_t>(end - i)};
    i = end;
  }
  return built;
}

const MetricRules::MetricSlot* MetricRules::find_metric(std::string_view name) const noexcept {
  if (m_slots.empty() || name.empty()) {
    return nullptr;
  }
  const std::size_t mask = m_slots.size() - 1;
  const std::size_t home = std::hash<std::string_view>{}(name);
  for (std::size_t at = home & mask;; at = (at + 1) & mask) { // at most half full: ends
    const MetricSlot& slot = m_slots[at];
    if (slot.metric.empty()) {
      return nullptr;
    }
    if (slot.metric == name) {
      return &slot;
    }
  }
}

MetricRules::MetricRules(MetricRules&&) noexcept = default;
MetricRules& MetricRules::operator=(MetricRules&&) noexcept = default;
MetricRules::~MetricRules() = default;

std::size_t MetricRules::rule_count() const noexcept {
  return m_rules.size();
}

std::size_t MetricRules::series_count() const noexcept {
  std::size_t count = 0;
  for (const auto& rule : m_rules) {
    count += rule->series.size();
  }
  return count;
}

void MetricRules::observe(std::string_view name, double value, std::int64_t wall_ms,
                          std::int64_t mono_ms, std::span<const protocol::LabelView> labels,
                          const SignalOut& out) noexcept {
  bool seen = false;
  const MetricSlot* slot = find_metric(name);
  if (slot == nullptr) {
    return; // no rule watches this metric
  }
  const auto run = std::span(m_by_metric).subspan(slot->first, slot->count);
  for (const auto& entry : run) {
    Rule* rule = entry.second;
    if (!rule->matches(labels)) {
      continue;
    }
    seen = true;
    Rule::Series* series = nullptr;
    try {
      series = rule->find_or_add(labels, m_counters);
    } catch (...) {
      ++m_counters.series_refused; // out of memory: skip this series, keep the agent alive
    }
    if (series == nullptr) {
      continue;
    }
    const d::Transition transition =
        std::visit([&](auto& det) { return det->update(value, mono_ms); }, series->detector);
    if (transition == d::Transition::none) {
      continue;
    }
    const bool fired = transition == d::Transition::fire;
    ++(fired ? m_counters.fires : m_counters.clears);
    const double judged = figure(series->detector, value);
    char message[200];
    std::snprintf(message, sizeof(message), "%s%s%.*s %s: %s %.6g (value %.6g)",
                  rule->spec.summary.c_str(), rule->spec.summary.empty() ? "" : ": ",
                  static_cast<int>(name.size()), name.data(), fired ? "fired" : "cleared",
                  figure_text(rule->spec.spec), judged, value);
    protocol::SignalView signal;
    signal.rule = rule->spec.id;
    signal.state = fired ? protocol::SignalState::firing : protocol::SignalState::cleared;
    signal.severity = rule->spec.severity;
    signal.category = rule->spec.category;
    signal.fingerprint = series->fingerprint;
    signal.value = judged;
    signal.time_ms = wall_ms;
    signal.labels = labels;
    signal.message = message;
    out(signal);
  }
  if (seen) {
    ++m_counters.samples_seen;
  }
}

} // namespace medic::agent::detect
