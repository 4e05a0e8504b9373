// SPDX-License-Identifier: Apache-2.0
// AnomalyDetector: a streaming anomaly score in [0, 1] for any series, cheap enough to run on
// every metric of every host (well under 1 µs per update, under 2 KiB of state, no allocation,
// deterministic). The model has one fixed configuration; the spec only says when to alarm.
//
// The model, per sample:
//  1. Two predictions of the value, each with a robust scale (a running mean of the absolute
//     residual, each residual clipped at 4 scales so a spike cannot inflate it):
//       - local: a running level of the value (each residual, clipped, moves it by 10%);
//       - seasonal: a slow mean (about a day) plus a time-of-day profile (288 bins of 5 minutes,
//         each learning half of the difference per day) plus a running level of what is left.
//     z = |residual| / scale. Once a day has been seen, z = min(z local, z seasonal): the value
//     must be surprising both for the recent level and for the time of day, so a daily pattern
//     does not alarm; but when the seasonal residuals are clearly smaller (scale below 0.7 times
//     the local one), z seasonal alone, so that a missing daily event is seen.
//     The time of day is t_ms modulo 24 h: a monotonic clock works, only the period matters.
//  2. Level shifts: 4 residuals in a row beyond 3 scales on the same side re-centre the level
//     on the new value (and widen the envelope of step 4 to 2 scales around it): a shift alarms
//     for a few samples, then the new level is normal.
//  3. Calibration: z becomes a tail probability p = P(Z >= z) from a histogram of this
//     series' own past z values (80 log-spaced bins, about 2000 samples of memory, a Pareto
//     prior beyond what was seen). A spiky series needs a larger z than a quiet one for the same
//     p, so one threshold suits every series.
//  4. Novel range: a value outside the envelope of the values seen, by more than 2% of the
//     envelope's width w, counts as p = 2 / min(n, 2000) * 10^(-7 * excess / w) when that is
//     smaller (n samples seen: a new extreme among n exchangeable values has chance 2 / n). The
//     envelope forgets slowly: it shrinks by at most 1% of its width per day and 0.002% per
//     sample, so a daily peak stays inside it.
//  5. score = clamp((-log10(p) - 0.5) / 5, 0, 1): p = 1e-3 gives 0.5, p <= 10^-5.5 gives 1.
// The first `warmup` samples score 0. A non-finite internal state (values near the limits of
// double) restarts the model from the current sample.
//
// Firing: fires on the first sample with score >= fire_score; clears once the score has stayed
// below clear_score for clear_for.
//
// Defaults: fire_score 0.7 (p = 1e-4: on pure Gaussian noise sampled once a minute, no false
// alarm in 200 runs of 2 to 7 days), clear_score 0.3, clear_for 5m, warmup 120 samples.
// A benchmark that sweeps a threshold (NAB) scores score(), not the alarms.
// Figure: score().
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "shared/detect/latch.hpp"
#include "shared/error.hpp"

namespace medic::detect {

struct AnomalySpec {
  double fire_score = 0.7;  // 0..1
  double clear_score = 0.3; // 0..fire_score
  std::chrono::milliseconds clear_for{std::chrono::minutes(5)};
  std::uint32_t warmup = 120; // samples scored 0 while the model learns, 0..1000000

  [[nodiscard]] Result<void> validate() const;
};

class AnomalyDetector {
public:
  // The spec should have passed validate(); an invalid one gives meaningless alarms, never UB.
  explicit AnomalyDetector(const AnomalySpec& spec = {}) noexcept;
  [[nodiscard]] static Result<AnomalyDetector> create(const AnomalySpec& spec);

  Transition update(double value, std::int64_t t_ms) noexcept;

  [[nodiscard]] bool firing() const noexcept { return m_latch.firing(); }
  // The last sample's score, 0 before the first one.
  [[nodiscard]] double score() const noexcept { return m_score; }
  [[nodiscard]] const AnomalySpec& spec() const noexcept { return m_spec; }
  [[nodiscard]] const InputFilter& inputs() const noexcept { return m_filter; }

private:
  static constexpr std::size_t k_profile_bins = 288;
  static constexpr std::size_t k_tail_bins = 80;

  // A running level with its robust scale and the run of large residuals on one side.
  struct Track {
    double level = 0;
    double scale = 0;
    std::int32_t run = 0; // > 0 above, < 0 below
  };

  struct Model {
    std::uint64_t count = 0;
    std::int64_t first_ms = 0;
    std::int64_t last_ms = 0;
    double mean = 0; // slow, about a day
    double low = 0;  // the envelope of values seen
    double high = 0;
    Track local;
    Track seasonal;
    std::array<float, k_profile_bins> profile{};
    std::array<std::uint8_t, k_profile_bins / 8> visited{};
    std::array<float, k_tail_bins> tail{}; // weights of past z, forgetting by a growing weight
    double tail_weight = 1;
    double tail_total = 0;
  };

  [[nodiscard]] double surprise(double value, std::int64_t t_ms) noexcept;
  [[nodiscard]] double residual_z(double value, std::int64_t t_ms, double dt_ms) noexcept;
  [[nodiscard]] double tail_probability(double z) noexcept;
  [[nodiscard]] double range_probability(double value, double dt_ms) noexcept;

  AnomalySpec m_spec;
  InputFilter m_filter;
  Latch m_latch;
  Model m_model;
  double m_score = 0;
};

} // namespace medic::detect
