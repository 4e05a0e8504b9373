// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/anomaly_detector.hpp"

#include <algorithm>
#include <cmath>

#include "shared/detect/spec_check.hpp"

namespace medic::detect {

namespace {

constexpr double k_slow_gain = 1.0 / 16;       // the slow scale: an average over about 16 samples
constexpr double k_score_offset_decades = 0.5; // score = (decades - 0.5) / 5
constexpr double k_score_span_decades = 5;
constexpr std::uint32_t k_max_warmup = 1'000'000;

} // namespace

Result<void> AnomalySpec::validate() const {
  namespace check = spec_check;
  if (auto ok = check::in_range("fire_score", fire_score, 0.0, 1.0); !ok) {
    return ok;
  }
  if (!(clear_score >= 0 && clear_score <= fire_score)) {
    return check::invalid("clear_score " + check::number(clear_score) +
                          " must be between 0 and fire_score " + check::number(fire_score));
  }
  if (auto ok = check::not_negative("clear_for", clear_for); !ok) {
    return ok;
  }
  return check::in_range("warmup", std::size_t{warmup}, 0, k_max_warmup);
}

AnomalyDetector::AnomalyDetector(const AnomalySpec& spec) noexcept
    : m_spec(spec), m_latch(std::chrono::milliseconds(0), spec.clear_for) {}

Result<AnomalyDetector> AnomalyDetector::create(const AnomalySpec& spec) {
  if (auto ok = spec.validate(); !ok) {
    return fail(std::move(ok.error()));
  }
  return AnomalyDetector(spec);
}

double AnomalyDetector::surprise(double value, std::int64_t t_ms) noexcept {
  Model& m = m_model;
  ++m.count;
  if (m.count == 1) {
    m.first_ms = t_ms;
    m.last_ms = t_ms;
    m.profile.reset(value);
    m.fast.reset(value);
    m.slow.reset(value);
  }
  const auto dt_ms = static_cast<double>(t_ms - m.last_ms);
  m.last_ms = t_ms;
  const double residual = value - m.profile.mean() - m.profile.expected(t_ms);
  const bool seasonal = t_ms - m.first_ms >= anomaly::k_day_ms;
  const double fast = m.fast.surprise(value, residual, 1.0, seasonal, m.count, dt_ms);
  const double slow = m.slow.surprise(value, residual, k_slow_gain, seasonal, m.count, dt_ms);
  m.profile.learn(value, t_ms, dt_ms, m.count);
  return std::max(fast, slow);
}

Transition AnomalyDetector::update(double value, std::int64_t t_ms) noexcept {
  if (!m_filter.accept(value, t_ms)) {
    return Transition::none;
  }
  double decades = surprise(value, t_ms);
  const Model& m = m_model;
  if (std::isnan(decades) || !m.fast.finite() || !m.slow.finite() ||
      !std::isfinite(m.profile.mean())) {
    m_model = Model{}; // values near the limits of double overflowed the model
    decades = surprise(value, t_ms);
  }
  double raw = 0;
  if (m_model.count > m_spec.warmup) {
    raw = std::clamp((decades - k_score_offset_decades) / k_score_span_decades, 0.0, 1.0);
  }
  m_score = m_rest.filter(m_suppression.filter(raw));
  return m_latch.update(m_score >= m_spec.fire_score, m_score < m_spec.clear_score, t_ms);
}

} // namespace medic::detect
