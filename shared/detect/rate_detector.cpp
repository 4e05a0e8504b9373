// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/rate_detector.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "shared/detect/spec_check.hpp"

namespace medic::detect {

namespace {

constexpr std::size_t k_min_capacity = 3;
constexpr std::size_t k_max_capacity = 4096;
constexpr double k_ms_per_second = 1000.0;

} // namespace

Result<void> RateSpec::validate() const {
  namespace check = spec_check;
  if (auto ok = check::finite("fire_level", fire_level); !ok) {
    return ok;
  }
  const double clear = effective_clear_level();
  if (auto ok = check::finite("clear_level", clear); !ok) {
    return ok;
  }
  if (compare == Compare::above && clear > fire_level) {
    return check::invalid("clear_level " + check::number(clear) + " must not be above fire_level " +
                          check::number(fire_level) + " for an 'above' rate");
  }
  if (compare == Compare::below && clear < fire_level) {
    return check::invalid("clear_level " + check::number(clear) + " must not be below fire_level " +
                          check::number(fire_level) + " for a 'below' rate");
  }
  if (auto ok = check::positive("window", window); !ok) {
    return ok;
  }
  if (auto ok = check::not_negative("for", for_duration); !ok) {
    return ok;
  }
  if (auto ok = check::not_negative("clear_for", clear_for); !ok) {
    return ok;
  }
  return check::in_range("capacity", capacity, k_min_capacity, k_max_capacity);
}

RateDetector::RateDetector(const RateSpec& spec)
    : m_spec(spec),
      m_latch(spec.for_duration, spec.clear_for),
      m_points(std::clamp(spec.capacity, k_min_capacity, k_max_capacity)),
      m_step_ms(std::max<std::int64_t>(
          spec.window.count() / static_cast<std::int64_t>(m_points.capacity() - 2), 0)) {}

Result<RateDetector> RateDetector::create(const RateSpec& spec) {
  if (auto ok = spec.validate(); !ok) {
    return fail(std::move(ok.error()));
  }
  return RateDetector(spec);
}

double RateDetector::adjusted(double value) noexcept {
  if (m_spec.kind != SeriesKind::counter) {
    return value;
  }
  if (m_last_raw && value < *m_last_raw) {
    m_offset += *m_last_raw;
    ++m_resets;
  }
  m_last_raw = value;
  return value + m_offset;
}

void RateDetector::compute_rate(double value, std::int64_t t_ms) noexcept {
  const std::int64_t window_start = t_ms - m_spec.window.count();
  while (m_points.size() >= 2 && m_points[1].t_ms <= window_start) {
    m_points.pop_front();
  }
  if (!m_points.empty() && m_points.front().t_ms < t_ms) {
    const Point& reference = m_points.front();
    const double seconds = static_cast<double>(t_ms - reference.t_ms) / k_ms_per_second;
    const double rate = (value - reference.value) / seconds;
    if (std::isfinite(rate)) { // values near the double range could overflow
      m_rate = rate;
    }
  }
  if (m_points.empty() || t_ms - m_points.back().t_ms >= m_step_ms) {
    m_points.push_back(Point{t_ms, value});
  }
}

Transition RateDetector::update(double value, std::int64_t t_ms) noexcept {
  if (!m_filter.accept(value, t_ms)) {
    return Transition::none;
  }
  compute_rate(adjusted(value), t_ms);
  if (!m_rate) {
    return Transition::none;
  }
  const double rate = *m_rate;
  const double clear_level = m_spec.effective_clear_level();
  const bool above = m_spec.compare == Compare::above;
  const bool fire_condition = above ? rate > m_spec.fire_level : rate < m_spec.fire_level;
  const bool clear_condition = above ? rate <= clear_level : rate >= clear_level;
  return m_latch.update(fire_condition, clear_condition, t_ms);
}

} // namespace medic::detect
