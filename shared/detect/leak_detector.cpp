// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/leak_detector.hpp"

#include <algorithm>
#include <string>

#include "shared/detect/spec_check.hpp"

namespace medic::detect {

namespace {

constexpr std::size_t k_min_capacity = 4;
constexpr std::size_t k_max_capacity = 128;
constexpr std::size_t k_min_points = 3;
constexpr std::size_t k_level_buckets = 5;
constexpr std::size_t k_slope_every = 4; // buckets between two Theil–Sen fits
constexpr double k_max_percent = 10'000;
constexpr double k_min_restart_drop = 0.01;
constexpr double k_percent = 100;

std::size_t clamped_capacity(const LeakSpec& spec) {
  return std::clamp(spec.capacity, k_min_capacity, k_max_capacity);
}

Result<void> validate_fractions(const LeakSpec& spec) {
  namespace check = spec_check;
  if (auto ok = check::in_range("min_growth_bytes", spec.min_growth_bytes, 0.0, 1e300); !ok) {
    return ok;
  }
  if (auto ok = check::in_range("min_growth_percent", spec.min_growth_percent, 0.0, k_max_percent);
      !ok) {
    return ok;
  }
  if (auto ok = check::in_range("min_rising_fraction", spec.min_rising_fraction, 0.0, 1.0); !ok) {
    return ok;
  }
  if (auto ok = check::in_range("restart_drop_fraction", spec.restart_drop_fraction,
                                k_min_restart_drop, 1.0);
      !ok) {
    return ok;
  }
  return check::in_range("clear_factor", spec.clear_factor, 0.0, 1.0);
}

} // namespace

Result<void> LeakSpec::validate() const {
  namespace check = spec_check;
  if (auto ok = check::positive("window", window); !ok) {
    return ok;
  }
  if (auto ok = check::not_negative("min_span", min_span); !ok) {
    return ok;
  }
  if (min_span > window) {
    return check::invalid("min_span " + check::duration(min_span) +
                          " must not be longer than window " + check::duration(window));
  }
  if (auto ok = check::in_range("capacity", capacity, k_min_capacity, k_max_capacity); !ok) {
    return ok;
  }
  if (window.count() < static_cast<std::int64_t>(capacity)) {
    return check::invalid("window " + check::duration(window) + " is shorter than capacity " +
                          std::to_string(capacity) + " buckets of 1ms");
  }
  if (auto ok = check::in_range("min_points", min_points, k_min_points, capacity); !ok) {
    return ok;
  }
  return validate_fractions(*this);
}

LeakDetector::LeakDetector(const LeakSpec& spec)
    : m_spec(spec),
      m_latch(std::chrono::milliseconds(0), std::chrono::milliseconds(0)),
      m_series(clamped_capacity(spec),
               spec.window.count() / static_cast<std::int64_t>(clamped_capacity(spec))) {}

Result<LeakDetector> LeakDetector::create(const LeakSpec& spec) {
  if (auto ok = spec.validate(); !ok) {
    return fail(std::move(ok.error()));
  }
  return LeakDetector(spec);
}

std::optional<double> LeakDetector::slope_per_second() const noexcept {
  return m_evidence ? std::optional<double>(m_evidence->slope) : std::nullopt;
}

std::optional<double> LeakDetector::growth() const noexcept {
  return m_evidence ? std::optional<double>(m_evidence->growth) : std::nullopt;
}

bool LeakDetector::restarted(double value) const noexcept {
  return m_last_value && *m_last_value > 0 &&
         value < *m_last_value * (1 - m_spec.restart_drop_fraction);
}

void LeakDetector::evaluate() noexcept {
  const std::size_t n = m_series.size();
  const bool credible = n >= m_spec.min_points && m_series.span_ms() >= m_spec.min_span.count();
  const std::optional<double> slope = credible ? m_series.slope(k_slope_every) : std::nullopt;
  if (!slope) {
    m_evidence.reset();
    return;
  }
  Evidence evidence;
  evidence.slope = *slope;
  const double first_t = m_series[0].t;
  evidence.growth = *slope * (m_series[n - 1].t - first_t);
  evidence.start_level = m_series.level_at(*slope, first_t, 0, k_level_buckets);
  const std::size_t third = std::max<std::size_t>(n / 3, 1);
  double old_floor = m_series[0].value;
  double new_floor = m_series[n - 1].value;
  std::size_t rising_steps = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double value = m_series[i].value;
    old_floor = i < third ? std::min(old_floor, value) : old_floor;
    new_floor = i >= n - third ? std::min(new_floor, value) : new_floor;
    rising_steps += i > 0 && value >= m_series[i - 1].value ? 1 : 0;
  }
  evidence.floor_growth = new_floor - old_floor;
  evidence.rising_fraction = static_cast<double>(rising_steps) / static_cast<double>(n - 1);
  m_evidence = evidence;
}

bool LeakDetector::grew(double factor) const noexcept {
  const Evidence& e = *m_evidence;
  const double bytes = factor * m_spec.min_growth_bytes;
  const double percent = factor * m_spec.min_growth_percent;
  const double least = std::min(e.growth, e.floor_growth);
  return least >= bytes && least * k_percent >= percent * e.start_level;
}

Transition LeakDetector::update(double value, std::int64_t t_ms) noexcept {
  if (!m_filter.accept(value, t_ms)) {
    return Transition::none;
  }
  Transition transition = Transition::none;
  if (restarted(value)) {
    ++m_restarts;
    m_series.clear();
    m_evidence.reset();
    transition = m_latch.force_clear();
  }
  m_last_value = value;
  m_series.expire(t_ms - m_spec.window.count());
  if (!m_series.add(value, t_ms)) {
    return transition;
  }
  evaluate();
  const bool fire_condition = m_evidence && m_evidence->slope > 0 &&
                              m_evidence->rising_fraction >= m_spec.min_rising_fraction &&
                              grew(1.0);
  const bool clear_condition = !m_evidence || m_evidence->slope <= 0 || !grew(m_spec.clear_factor);
  const Transition evaluated = m_latch.update(fire_condition, clear_condition, t_ms);
  return transition == Transition::none ? evaluated : transition;
}

} // namespace medic::detect
