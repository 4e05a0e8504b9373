// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/anomaly_model.hpp"

#include <algorithm>
#include <cmath>

namespace medic::detect::anomaly {

namespace {

// The one configuration (see anomaly_detector.hpp for how it was chosen).
constexpr double k_level_gain = 0.1;
constexpr double k_scale_gain = 0.02;
constexpr double k_clip = 4;                    // residuals are clipped at this many scales
constexpr double k_shift_z = 3;                 // a residual this large counts toward a level shift
constexpr std::int32_t k_shift_run = 4;         // this many in a row on one side is a shift
constexpr double k_scale_floor_relative = 1e-3; // of the level, so a flat series has a scale
constexpr double k_scale_floor = 1e-9;
constexpr double k_seasonal_choice = 0.7;

constexpr double k_tail_forget = 1.0 / 5000; // per sample
constexpr double k_tail_bins_per_octave = 4;
constexpr double k_tail_lowest_octave = -2; // z = 1/4
constexpr double k_prior_z = 3;             // Pareto prior: P(Z >= z) = (3 / z)^2
constexpr double k_tail_renormalise = 1e20;

constexpr double k_range_margin = 0.02;         // of the envelope's width
constexpr double k_range_count_cap = 2'000;     // p = 2 / min(samples, cap) just past it...
constexpr double k_range_decades_per_width = 7; // ...and 7 decades less per width beyond
constexpr double k_range_shrink_per_day = 0.003;
constexpr double k_range_shrink_per_sample = 2e-5;
constexpr double k_shift_envelope = 2; // scales of room around a shifted level

constexpr double k_profile_gain_per_day = 0.5;

constexpr double k_suppress_margin = 0.1;
constexpr double k_suppress_decay = 0.998; // per sample

constexpr double k_rest_trigger = 0.5; // a score above this starts a rest period...
constexpr std::uint32_t k_rest_samples = 150;
constexpr double k_rest_margin = 0.3; // ...in which only a score this much higher passes

double day_fraction(double dt_ms) {
  return dt_ms / static_cast<double>(k_day_ms);
}

} // namespace

RobustTrack::Step RobustTrack::step(double x, std::uint64_t count) noexcept {
  const double floor = std::max(k_scale_floor, k_scale_floor_relative * std::abs(level));
  const double used_scale = std::max(scale, floor);
  const double residual = x - level;
  Step result{std::abs(residual) / used_scale, false};
  level += k_level_gain * std::clamp(residual, -k_clip * used_scale, k_clip * used_scale);
  if (result.z > k_shift_z) {
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

double TailCalibration::probability(double z) noexcept {
  const double octave = z > 0 ? std::log2(z) : k_tail_lowest_octave;
  const double position = (octave - k_tail_lowest_octave) * k_tail_bins_per_octave;
  const auto bin =
      static_cast<std::size_t>(std::clamp(position, 0.0, static_cast<double>(k_bins - 1)));
  double above = 0.5 * m_weights[bin];
  for (std::size_t b = bin + 1; b < k_bins; ++b) {
    above += m_weights[b];
  }
  const double ratio = k_prior_z / std::max(z, k_scale_floor);
  const double prior = std::min(1.0, ratio * ratio);
  const double p = (above + m_next_weight * prior) / (m_total + m_next_weight);

  // Forgetting without touching every bin: later samples weigh more, and all weights are
  // scaled down together before they could overflow a float.
  m_weights[bin] = static_cast<float>(m_weights[bin] + m_next_weight);
  m_total += m_next_weight;
  m_next_weight /= 1.0 - k_tail_forget;
  if (m_next_weight > k_tail_renormalise) {
    for (float& weight : m_weights) {
      weight = static_cast<float>(weight / m_next_weight);
    }
    m_total /= m_next_weight;
    m_next_weight = 1;
  }
  return p;
}

double Envelope::probability(double x, std::uint64_t count, double dt_ms) noexcept {
  const double width = std::max(m_high - m_low, k_scale_floor + 1e-3 * std::abs(m_high));
  const double excess = std::max({0.0, x - m_high, m_low - x}) / width;
  double p = 1;
  if (excess > k_range_margin) {
    // A new extreme is as likely as 2 / n among n exchangeable samples; less the further out.
    const double samples = std::clamp(static_cast<double>(count), 2.0, k_range_count_cap);
    p = 2.0 / samples * std::pow(10.0, -k_range_decades_per_width * excess);
  }
  const double shrink =
      std::min(k_range_shrink_per_sample, k_range_shrink_per_day * day_fraction(dt_ms));
  const double old_width = m_high - m_low;
  m_high = std::max(x, m_high - shrink * old_width);
  m_low = std::min(x, m_low + shrink * old_width);
  return p;
}

void Envelope::widen(double center, double half_width) noexcept {
  m_high = std::max(m_high, center + half_width);
  m_low = std::min(m_low, center - half_width);
}

std::size_t DailyProfile::bin_of(std::int64_t t_ms) noexcept {
  const std::int64_t time_of_day = ((t_ms % k_day_ms) + k_day_ms) % k_day_ms;
  return static_cast<std::size_t>(time_of_day / (k_day_ms / static_cast<std::int64_t>(k_bins)));
}

double DailyProfile::expected(std::int64_t t_ms) const noexcept {
  const std::size_t bin = bin_of(t_ms);
  return visited(bin) ? m_deviation[bin] : 0.0;
}

void DailyProfile::learn(double x, std::int64_t t_ms, double dt_ms, std::uint64_t count) noexcept {
  const std::size_t bin = bin_of(t_ms);
  const double deviation = x - m_mean;
  if (visited(bin)) {
    const double bin_ms = static_cast<double>(k_day_ms) / static_cast<double>(k_bins);
    const double gain = k_profile_gain_per_day * std::min(1.0, dt_ms / bin_ms);
    m_deviation[bin] = static_cast<float>(m_deviation[bin] + gain * (deviation - m_deviation[bin]));
  } else {
    m_deviation[bin] = static_cast<float>(deviation);
    m_visited[bin / 8] = static_cast<std::uint8_t>(m_visited[bin / 8] | (1U << (bin % 8)));
  }
  const double mean_gain = std::max(day_fraction(dt_ms), 1.0 / static_cast<double>(count));
  m_mean += std::min(1.0, mean_gain) * (x - m_mean);
}

void ScaleModel::reset(double x) noexcept {
  *this = ScaleModel{};
  m_value = x;
  m_local.level = x;
  m_envelope.reset(x);
}

double ScaleModel::surprise(double x, double residual, double gain, bool seasonal,
                            std::uint64_t count, double dt_ms) noexcept {
  m_value += gain * (x - m_value);
  m_residual += gain * (residual - m_residual);
  const RobustTrack::Step local = m_local.step(m_value, count);
  const double z_seasonal = m_seasonal.step(m_residual, count).z;
  if (local.shifted) {
    m_envelope.widen(m_local.level, k_shift_envelope * m_local.scale);
  }
  double z = local.z;
  if (seasonal) {
    z = m_seasonal.scale < k_seasonal_choice * m_local.scale ? z_seasonal
                                                             : std::min(local.z, z_seasonal);
  }
  const double p_tail = m_tail.probability(z);
  const double p_range = m_envelope.probability(m_value, count, dt_ms);
  return -std::log10(std::min(p_tail, p_range));
}

bool ScaleModel::finite() const noexcept {
  return std::isfinite(m_value + m_residual + m_local.level + m_local.scale + m_seasonal.level +
                       m_seasonal.scale + m_envelope.high() - m_envelope.low());
}

double Suppression::filter(double score) noexcept {
  const double passed = score > m_memory + k_suppress_margin ? score : 0.0;
  m_memory = std::max(m_memory * k_suppress_decay, score);
  return passed;
}

double RestPeriod::filter(double score) noexcept {
  if (m_left > 0) {
    --m_left;
    if (score <= m_alarm + k_rest_margin) {
      return 0;
    }
  }
  if (score > k_rest_trigger) {
    m_alarm = score;
    m_left = k_rest_samples;
  }
  return score;
}

} // namespace medic::detect::anomaly
