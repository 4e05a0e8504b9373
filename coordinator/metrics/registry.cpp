// SPDX-License-Identifier: Apache-2.0
#include "coordinator/metrics/registry.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "coordinator/metrics/exposition.hpp"

namespace medic::coordinator::metrics {

namespace {

constexpr std::array<double, 14> k_latency_buckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

} // namespace

std::span<const double> latency_buckets() noexcept {
  return k_latency_buckets;
}

std::string_view to_string(MetricType type) noexcept {
  switch (type) {
  case MetricType::counter: return "counter";
  case MetricType::gauge: return "gauge";
  case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

Histogram::Histogram(std::span<const double> bounds)
    : m_bounds(bounds.begin(), bounds.end()),
      m_counts(std::make_unique<std::atomic<std::uint64_t>[]>(m_bounds.size() + 1)) {}

void Histogram::observe(double value) noexcept {
  // The first bound the value fits under (le is inclusive); past the last one: +Inf.
  const auto it = std::lower_bound(m_bounds.begin(), m_bounds.end(), value);
  const auto index = static_cast<std::size_t>(it - m_bounds.begin());
  m_counts[index].fetch_add(1, std::memory_order_relaxed);
  m_sum.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.cumulative.reserve(m_bounds.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= m_bounds.size(); ++i) {
    total += m_counts[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(total);
  }
  snapshot.sum = m_sum.load(std::memory_order_relaxed);
  return snapshot;
}

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names)
    : m_name(std::move(name)),
      m_help(std::move(help)),
      m_type(type),
      m_label_names(std::move(label_names)) {}

void FamilyBase::render_header(std::string& out) const {
  out += "# HELP ";
  out += m_name;
  out += ' ';
  append_help_escaped(out, m_help);
  out += "\n# TYPE ";
  out += m_name;
  out += ' ';
  out += to_string(m_type);
  out += '\n';
}

void FamilyBase::render_series(std::string& out, std::string_view suffix, const LabelValues& values,
                               std::string_view extra) const {
  out += m_name;
  out += suffix;
  if (values.empty() && extra.empty()) {
    return;
  }
  out += '{';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += m_label_names[i];
    out += "=\"";
    append_label_value_escaped(out, values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!values.empty()) {
      out += ',';
    }
    out += extra;
  }
  out += '}';
}

template <>
void Family<Counter>::render(std::string& out) const {
  render_header(out);
  std::lock_guard lock(m_mutex);
  for (const auto& [values, counter] : m_children) {
    render_series(out, "", values);
    out += ' ';
    append_value(out, counter->value());
    out += '\n';
  }
}

template <>
void Family<Gauge>::render(std::string& out) const {
  render_header(out);
  std::lock_guard lock(m_mutex);
  for (const auto& [values, gauge] : m_children) {
    render_series(out, "", values);
    out += ' ';
    append_value(out, gauge->value());
    out += '\n';
  }
}

template <>
void Family<Histogram>::render(std::string& out) const {
  render_header(out);
  std::lock_guard lock(m_mutex);
  for (const auto& [values, histogram] : m_children) {
    const auto snapshot = histogram->snapshot();
    const auto& bounds = histogram->bounds();
    std::string le;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      le = "le=\"";
      if (i < bounds.size()) {
        append_value(le, bounds[i]);
      } else {
        le += "+Inf";
      }
      le += '"';
      render_series(out, "_bucket", values, le);
      out += ' ';
      append_value(out, snapshot.cumulative[i]);
      out += '\n';
    }
    render_series(out, "_sum", values);
    out += ' ';
    append_value(out, snapshot.sum);
    out += '\n';
    render_series(out, "_count", values);
    out += ' ';
    append_value(out, snapshot.cumulative.back());
    out += '\n';
  }
}

void Registry::check_new(const std::string& name, const std::vector<std::string>& label_names,
                         MetricType type) const {
  if (!valid_metric_name(name)) {
    throw std::invalid_argument("metric name '" + name + "' is not valid in Prometheus");
  }
  for (const auto& label : label_names) {
    if (!valid_label_name(label) || (type == MetricType::histogram && label == "le")) {
      throw std::invalid_argument("label name '" + label + "' of metric " + name +
                                  " is not valid in Prometheus");
    }
  }
  for (const auto& family : m_families) {
    if (family->name() == name) {
      throw std::invalid_argument("metric " + name + " is registered twice");
    }
  }
}

template <class F>
F& Registry::add(std::unique_ptr<F> family) {
  family->m_refused = &m_series_refused;
  F& added = *family;
  m_families.push_back(std::move(family));
  return added;
}

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  check_new(name, label_names, MetricType::counter);
  return add(std::make_unique<CounterFamily>(std::move(name), std::move(help), MetricType::counter,
                                             std::move(label_names),
                                             [] { return std::make_unique<Counter>(); }));
}

GaugeFamily& Registry::gauge(std::string name, std::string help,
                             std::vector<std::string> label_names) {
  check_new(name, label_names, MetricType::gauge);
  return add(std::make_unique<GaugeFamily>(std::move(name), std::move(help), MetricType::gauge,
                                           std::move(label_names),
                                           [] { return std::make_unique<Gauge>(); }));
}

GaugeFamily& Registry::real_counter(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  check_new(name, label_names, MetricType::counter);
  return add(std::make_unique<GaugeFamily>(std::move(name), std::move(help), MetricType::counter,
                                           std::move(label_names),
                                           [] { return std::make_unique<Gauge>(); }));
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::span<const double> bounds,
                                     std::vector<std::string> label_names) {
  check_new(name, label_names, MetricType::histogram);
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    throw std::invalid_argument("the buckets of histogram " + name +
                                " must be non-empty and strictly increasing");
  }
  return add(std::make_unique<HistogramFamily>(
      std::move(name), std::move(help), MetricType::histogram, std::move(label_names),
      [kept = std::vector<double>(bounds.begin(), bounds.end())] {
        return std::make_unique<Histogram>(kept);
      }));
}

std::string Registry::render() const {
  std::string out;
  out.reserve(16 * 1024);
  for (const auto& family : m_families) {
    family->render(out);
  }
  return out;
}

} // namespace medic::coordinator::metrics
