// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/anomaly_detector.hpp"

#include <algorithm>
#include <cmath>

#include "shared/detect/spec_check.hpp"

namespace medic::detect {

namespace {

// The one configuration (see the header). Chosen for sense, then checked against the NAB
// series in /work/shared/data (not tuned per series).
constexpr double k_level_gain = 0.1;
constexpr double k_scale_gain = 0.02;
constexpr double k_clip = 4;            // residuals are clipped at this many scales
constexpr double k_shift_z = 3;         // a residual this large counts toward a level shift
constexpr std::int32_t k_shift_run = 4; // this many in a row on one side is a shift
constexpr double k_seasonal_choice = 0.7;
constexpr double k_profile_gain_per_day = 0.5;
constexpr std::int64_t k_day_ms = 86'400'000;
constexpr double k_scale_floor_relative = 1e-3; // of the level, so a flat series has a scale
constexpr double k_scale_floor = 1e-9;
constexpr double k_tail_forget = 1.0 / 2000; // per sample
constexpr double k_tail_bins_per_octave = 4;
constexpr double k_tail_lowest_octave = -2; // z = 0.25
constexpr double k_prior_z = 3;             // Pareto prior: P(Z >= z) = (3 / z)^2
constexpr double k_tail_renormalise = 1e20;
constexpr double k_range_margin = 0.02;         // of the envelope's width
constexpr double k_range_count_cap = 2'000;     // p = 2 / min(samples, cap) just past it...
constexpr double k_range_decades_per_width = 7; // ...and 7 decades more per width beyond
constexpr double k_shift_envelope = 2;          // scales of room around a shifted level
constexpr double k_range_shrink_per_day = 0.01;
constexpr double k_range_shrink_per_sample = 2e-5;
constexpr double k_score_offset_decades = 0.5; // score = (decades - 0.5) / 5
constexpr double k_score_span_decades = 5;
constexpr std::uint32_t k_max_warmup = 1'000'000;

struct Step {
  double z = 0;
  bool shifted = false; // the level was re-centred on x
};

// z of x against the track, then the track learns x.
Step step(std::int32_t& run, double& level, double& scale, double x, std::uint64_t count) {
  const double floor = std::max(k_scale_floor, k_scale_floor_relative * std::abs(level));
  const double used_scale = std::max(scale, floor);
  const double residual = x - level;
  Step result{std::abs(residual) / used_scale, false};
  const double z = result.z;
  level += k_level_gain * std::clamp(residual, -k_clip * used_scale, k_clip * used_scale);
  if (z > k_shift_z) {
    const std::int32_t side = residual > 0 ? 1 : -1;
    run = run * side > 0 ? run + side : side;
  } else {
    run = 0;
  }
  if (std::abs(run) >= k_shift_run) {
    level = x; // the level shifted: start again from where it is now
    run = 0;
    result.shifted = true;
  }
  const double gain = std::max(k_scale_gain, 1.0 / static_cast<double>(count));
  scale += gain * (std::min(std::abs(residual), k_clip * used_scale) - scale);
  return result;
}

std::size_t profile_bin(std::int64_t t_ms, std::size_t bins) {
  const std::int64_t time_of_day = ((t_ms % k_day_ms) + k_day_ms) % k_day_ms;
  return static_cast<std::size_t>(time_of_day / (k_day_ms / static_cast<std::int64_t>(bins)));
}

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

double AnomalyDetector::residual_z(double value, std::int64_t t_ms, double dt_ms) noexcept {
  Model& m = m_model;
  const std::size_t bin = profile_bin(t_ms, k_profile_bins);
  const std::uint8_t bit = static_cast<std::uint8_t>(1U << (bin % 8));
  const bool visited = (m.visited[bin / 8] & bit) != 0;
  const double profile = visited ? m.profile[bin] : 0.0;

  const Step local = step(m.local.run, m.local.level, m.local.scale, value, m.count);
  const double z_local = local.z;
  const double z_seasonal =
      step(m.seasonal.run, m.seasonal.level, m.seasonal.scale, value - m.mean - profile, m.count).z;
  if (local.shifted) {
    // The new level's own noise is not news: widen the envelope to cover it.
    m.high = std::max(m.high, m.local.level + k_shift_envelope * m.local.scale);
    m.low = std::min(m.low, m.local.level - k_shift_envelope * m.local.scale);
  }

  const double deviation = value - m.mean;
  if (visited) {
    const double bin_ms = static_cast<double>(k_day_ms) / static_cast<double>(k_profile_bins);
    const double gain = k_profile_gain_per_day * std::min(1.0, dt_ms / bin_ms);
    m.profile[bin] = static_cast<float>(profile + gain * (deviation - profile));
  } else {
    m.profile[bin] = static_cast<float>(deviation);
    m.visited[bin / 8] = static_cast<std::uint8_t>(m.visited[bin / 8] | bit);
  }
  const double mean_gain =
      std::max(dt_ms / static_cast<double>(k_day_ms), 1.0 / static_cast<double>(m.count));
  m.mean += std::min(1.0, mean_gain) * (value - m.mean);

  if (t_ms - m.first_ms < k_day_ms) {
    return z_local;
  }
  if (m.seasonal.scale < k_seasonal_choice * m.local.scale) {
    return z_seasonal;
  }
  return std::min(z_local, z_seasonal);
}

double AnomalyDetector::tail_probability(double z) noexcept {
  Model& m = m_model;
  const double octave = z > 0 ? std::log2(z) : k_tail_lowest_octave;
  const double position = (octave - k_tail_lowest_octave) * k_tail_bins_per_octave;
  const auto bin =
      static_cast<std::size_t>(std::clamp(position, 0.0, static_cast<double>(k_tail_bins - 1)));
  double above = 0.5 * m.tail[bin];
  for (std::size_t b = bin + 1; b < k_tail_bins; ++b) {
    above += m.tail[b];
  }
  const double ratio = k_prior_z / std::max(z, k_scale_floor);
  const double prior = std::min(1.0, ratio * ratio);
  const double p = (above + m.tail_weight * prior) / (m.tail_total + m.tail_weight);

  // Forgetting without touching every bin: later samples weigh more, and all weights are
  // scaled down together before they could overflow a float.
  m.tail[bin] = static_cast<float>(m.tail[bin] + m.tail_weight);
  m.tail_total += m.tail_weight;
  m.tail_weight /= 1.0 - k_tail_forget;
  if (m.tail_weight > k_tail_renormalise) {
    for (float& weight : m.tail) {
      weight = static_cast<float>(weight / m.tail_weight);
    }
    m.tail_total /= m.tail_weight;
    m.tail_weight = 1;
  }
  return p;
}

double AnomalyDetector::range_probability(double value, double dt_ms) noexcept {
  Model& m = m_model;
  const double width = std::max(m.high - m.low, k_scale_floor + 1e-3 * std::abs(m.high));
  const double excess = std::max({0.0, value - m.high, m.low - value}) / width;
  double p = 1;
  if (excess > k_range_margin) {
    // A new extreme is as likely as 2 / n among n exchangeable samples; less the further out.
    const double samples = std::clamp(static_cast<double>(m.count), 2.0, k_range_count_cap);
    p = 2.0 / samples * std::pow(10.0, -k_range_decades_per_width * excess);
  }
  const double shrink = std::min(k_range_shrink_per_sample,
                                 k_range_shrink_per_day * dt_ms / static_cast<double>(k_day_ms));
  const double old_width = m.high - m.low;
  m.high = std::max(value, m.high - shrink * old_width);
  m.low = std::min(value, m.low + shrink * old_width);
  return p;
}

double AnomalyDetector::surprise(double value, std::int64_t t_ms) noexcept {
  Model& m = m_model;
  ++m.count;
  if (m.count == 1) {
    m.first_ms = t_ms;
    m.last_ms = t_ms;
    m.mean = value;
    m.low = value;
    m.high = value;
    m.local.level = value;
  }
  const auto dt_ms = static_cast<double>(t_ms - m.last_ms);
  m.last_ms = t_ms;
  const double z = residual_z(value, t_ms, dt_ms);
  const double p = std::min(tail_probability(z), range_probability(value, dt_ms));
  return -std::log10(p);
}

Transition AnomalyDetector::update(double value, std::int64_t t_ms) noexcept {
  if (!m_filter.accept(value, t_ms)) {
    return Transition::none;
  }
  double decades = surprise(value, t_ms);
  const Model& m = m_model;
  if (std::isnan(decades) || !std::isfinite(m.local.level + m.local.scale + m.seasonal.level +
                                            m.seasonal.scale + m.mean + m.high - m.low)) {
    m_model = Model{}; // values near the limits of double overflowed the model
    decades = surprise(value, t_ms);
  }
  if (m_model.count <= m_spec.warmup) {
    m_score = 0;
  } else {
    m_score = std::clamp((decades - k_score_offset_decades) / k_score_span_decades, 0.0, 1.0);
  }
  return m_latch.update(m_score >= m_spec.fire_score, m_score < m_spec.clear_score, t_ms);
}

} // namespace medic::detect
