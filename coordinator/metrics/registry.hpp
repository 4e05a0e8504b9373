// SPDX-License-Identifier: Apache-2.0
// A small metrics registry: counters, gauges and histograms with labels, rendered in the
// Prometheus text exposition format 0.0.4 (exposition.hpp). Values are atomics, so any thread
// may update them without a lock: the loop, the storage worker, the escalation sinks' threads.
// Looking up a labelled child takes its family's mutex; hot paths look up once and keep the
// reference (children are never moved or freed while the registry lives). Families are
// registered at start-up, before any other thread sees the registry.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace medic::coordinator::metrics {

// Series per family at most; a new label set beyond it goes to a shared child that is not
// rendered (counted in Registry::series_refused()), so a bug cannot grow memory without bound.
inline constexpr std::size_t k_max_series_per_family = 1000;

class Counter {
public:
  void inc(std::uint64_t n = 1) noexcept { m_value.fetch_add(n, std::memory_order_relaxed); }
  // For a total kept elsewhere (a loop-owned counter copied at collection time): it must only
  // grow, or Prometheus sees a reset.
  void mirror(std::uint64_t total) noexcept { m_value.store(total, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const noexcept {
    return m_value.load(std::memory_order_relaxed);
  }

private:
  std::atomic<std::uint64_t> m_value{0};
};

class Gauge {
public:
  void set(double value) noexcept { m_value.store(value, std::memory_order_relaxed); }
  void add(double delta) noexcept { m_value.fetch_add(delta, std::memory_order_relaxed); }
  [[nodiscard]] double value() const noexcept { return m_value.load(std::memory_order_relaxed); }

private:
  std::atomic<double> m_value{0};
};

// Buckets are upper bounds, strictly increasing; the +Inf bucket is implicit. Counts are kept
// per bucket and accumulated when rendered, so _count always equals the +Inf bucket.
class Histogram {
public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<std::uint64_t> cumulative; // one per bound, then +Inf
    double sum = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;
  [[nodiscard]] const std::vector<double>& bounds() const noexcept { return m_bounds; }

private:
  std::vector<double> m_bounds;
  std::unique_ptr<std::atomic<std::uint64_t>[]> m_counts; // bounds.size() + 1
  std::atomic<double> m_sum{0};
};

// Latencies from 0.5 ms to 10 s: a storage group write, an HTTP request.
[[nodiscard]] std::span<const double> latency_buckets() noexcept;

enum class MetricType : std::uint8_t { counter, gauge, histogram };
[[nodiscard]] std::string_view to_string(MetricType type) noexcept;

using LabelValues = std::vector<std::string>;

class FamilyBase {
public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names);
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  virtual ~FamilyBase() = default;

  [[nodiscard]] const std::string& name() const noexcept { return m_name; }
  [[nodiscard]] MetricType type() const noexcept { return m_type; }
  // Any thread: HELP, TYPE and every series, appended to `out`.
  virtual void render(std::string& out) const = 0;

protected:
  [[nodiscard]] bool accepts(const LabelValues& values) const noexcept {
    return values.size() == m_label_names.size();
  }
  void render_header(std::string& out) const;
  // name{a="x",b="y"[,extra]} without the value; `extra` is a rendered label (histogram's le).
  void render_series(std::string& out, std::string_view suffix, const LabelValues& values,
                     std::string_view extra = {}) const;

  std::string m_name;
  std::string m_help;
  MetricType m_type;
  std::vector<std::string> m_label_names;
  std::atomic<std::uint64_t>* m_refused = nullptr; // the registry's series_refused counter
  friend class Registry;
};

// A family of one metric type: children by label values, created on first use.
template <class Metric>
class Family final : public FamilyBase {
public:
  using Make = std::function<std::unique_ptr<Metric>()>;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
         Make make)
      : FamilyBase(std::move(name), std::move(help), type, std::move(labels)),
        m_overflow(make()),
        m_make(std::move(make)) {}

  // Any thread. The child for these label values (as many as the family has label names);
  // created at 0 when new. The reference stays valid as long as the registry.
  Metric& with(const LabelValues& values) {
    std::lock_guard lock(m_mutex);
    if (const auto it = m_children.find(values); it != m_children.end()) {
      return *it->second;
    }
    if (!accepts(values) || m_children.size() >= k_max_series_per_family) {
      if (m_refused != nullptr) {
        m_refused->fetch_add(1, std::memory_order_relaxed);
      }
      return *m_overflow;
    }
    return *m_children.emplace(values, m_make()).first->second;
  }
  // The single series of a family without labels.
  Metric& get() { return with({}); }

  void render(std::string& out) const override;

private:
  mutable std::mutex m_mutex; // guards m_children (the map, not the values)
  std::map<LabelValues, std::unique_ptr<Metric>> m_children;
  std::unique_ptr<Metric> m_overflow;
  Make m_make;
};

// registry.cpp renders each kind.
template <>
void Family<Counter>::render(std::string& out) const;
template <>
void Family<Gauge>::render(std::string& out) const;
template <>
void Family<Histogram>::render(std::string& out) const;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Start-up only (before other threads use the registry). Throws std::invalid_argument for a
  // name or label name Prometheus would refuse, or a name registered twice (our bug).
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // A counter whose total is a real number kept elsewhere (CPU seconds): a Gauge child that
  // the owner only ever sets higher, rendered with TYPE counter.
  GaugeFamily& real_counter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help, std::span<const double> bounds,
                             std::vector<std::string> label_names = {});

  // Any thread: every family in registration order, in the text format 0.0.4.
  [[nodiscard]] std::string render() const;
  [[nodiscard]] std::uint64_t series_refused() const noexcept {
    return m_series_refused.load(std::memory_order_relaxed);
  }

private:
  void check_new(const std::string& name, const std::vector<std::string>& label_names,
                 MetricType type) const;
  template <class F>
  F& add(std::unique_ptr<F> family);

  std::vector<std::unique_ptr<FamilyBase>> m_families;
  std::atomic<std::uint64_t> m_series_refused{0};
};

} // namespace medic::coordinator::metrics
