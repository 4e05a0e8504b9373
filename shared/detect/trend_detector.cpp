// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/trend_detector.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "shared/detect/spec_check.hpp"

namespace medic::detect {

namespace {

constexpr std::size_t k_min_capacity = 4;
constexpr std::size_t k_max_capacity = 128;
constexpr std::size_t k_min_points = 3;
constexpr std::size_t k_level_buckets = 5;
constexpr std::size_t k_slope_every = 4; // buckets between two Theil–Sen fits
constexpr double k_max_clear_factor = 1000;

std::int64_t bucket_ms(const TrendSpec& spec) {
  const auto capacity = std::clamp(spec.capacity, k_min_capacity, k_max_capacity);
  return spec.window.count() / static_cast<std::int64_t>(capacity);
}

} // namespace

std::string_view to_string(Approach approach) noexcept {
  return approach == Approach::rising ? "rising" : "falling";
}

Result<void> TrendSpec::validate() const {
  namespace check = spec_check;
  if (auto ok = check::finite("limit", limit); !ok) {
    return ok;
  }
  if (auto ok = check::positive("horizon", horizon); !ok) {
    return ok;
  }
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
  return check::in_range("clear_factor", clear_factor, 1.0, k_max_clear_factor);
}

TrendDetector::TrendDetector(const TrendSpec& spec)
    : m_spec(spec),
      m_latch(std::chrono::milliseconds(0), std::chrono::milliseconds(0)),
      m_series(std::clamp(spec.capacity, k_min_capacity, k_max_capacity), bucket_ms(spec)) {}

Result<TrendDetector> TrendDetector::create(const TrendSpec& spec) {
  if (auto ok = spec.validate(); !ok) {
    return fail(std::move(ok.error()));
  }
  return TrendDetector(spec);
}

std::optional<double> TrendDetector::slope_per_second() const noexcept {
  if (!m_credible || !m_fit) {
    return std::nullopt;
  }
  return m_fit->slope;
}

std::optional<double> TrendDetector::level() const noexcept {
  if (!m_credible || !m_fit) {
    return std::nullopt;
  }
  return m_level;
}

void TrendDetector::refit(double t) noexcept {
  const std::optional<double> slope = m_series.slope(k_slope_every);
  if (!slope) {
    m_fit.reset();
    return;
  }
  m_fit =
      Fit{*slope,
          m_series.level_at(*slope, t, m_series.size() - std::min(m_series.size(), k_level_buckets),
                            k_level_buckets),
          t};
}

std::optional<double> TrendDetector::predict(double t) const noexcept {
  if (!m_credible || !m_fit) {
    return std::nullopt;
  }
  const bool rising = m_spec.approach == Approach::rising;
  const double level = m_fit->level + m_fit->slope * (t - m_fit->t);
  const double distance = rising ? m_spec.limit - level : level - m_spec.limit;
  const double speed = rising ? m_fit->slope : -m_fit->slope;
  if (distance <= 0) {
    return 0.0;
  }
  if (speed <= 0) {
    return std::nullopt;
  }
  const double seconds = distance / speed;
  if (!std::isfinite(seconds)) { // a slope of 1e-320 per second: no prediction worth giving
    return std::nullopt;
  }
  return seconds;
}

Transition TrendDetector::update(double value, std::int64_t t_ms) noexcept {
  if (!m_filter.accept(value, t_ms)) {
    return Transition::none;
  }
  m_series.expire(t_ms - m_spec.window.count());
  const bool opened = m_series.add(value, t_ms);
  const double t = m_series.seconds(t_ms);
  if (opened) {
    refit(t);
  }
  m_credible =
      m_series.size() >= m_spec.min_points && m_series.span_ms() >= m_spec.min_span.count();
  if (m_fit) {
    m_level = m_fit->level + m_fit->slope * (t - m_fit->t);
  }
  m_predicted = predict(t);
  const double horizon_s = static_cast<double>(m_spec.horizon.count()) / 1000.0;
  const bool fire_condition = m_predicted && *m_predicted < horizon_s;
  const bool clear_condition = !m_predicted || *m_predicted > horizon_s * m_spec.clear_factor;
  return m_latch.update(fire_condition, clear_condition, t_ms);
}

} // namespace medic::detect
