// SPDX-License-Identifier: Apache-2.0
// The parts AnomalyDetector (anomaly_detector.hpp) is built from: each is a small, fixed-size,
// deterministic state machine fed one value at a time. No allocation, no I/O; a part belongs to
// the thread of its detector.
//
//  - RobustTrack: a running level with a robust scale, and level-shift detection.
//  - TailCalibration: turns a surprise z >= 0 into the tail probability P(Z >= z) of this
//    series' own past z values.
//  - Envelope: the range of values seen, forgetting slowly, and the probability of a new extreme.
//  - DailyProfile: the mean value by time of day.
//  - ScaleModel: one time scale of the detector: a smoothed value, its local and seasonal
//    tracks, its own calibration and envelope.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace medic::detect::anomaly {

inline constexpr std::int64_t k_day_ms = 86'400'000;

// A running level and the mean absolute residual around it (each residual clipped at 4 scales,
// so one spike cannot inflate it). A run of 4 residuals beyond 3 scales on the same side is a
// level shift: the level restarts from the current value.
struct RobustTrack {
  double level = 0;
  double scale = 0;
  std::int32_t run = 0; // > 0: residuals above, < 0: below

  struct Step {
    double z = 0;         // |residual| / scale, before learning
    bool shifted = false; // the level was re-centred on the value
  };
  // z of x, then learns x. `count` is the number of samples seen (>= 1): the scale learns fast
  // at first (gain 1 / count), then at its steady gain.
  Step step(double x, std::uint64_t count) noexcept;
};

// P(Z >= z) from a histogram of past z values (4 log-spaced bins per octave from z = 1/4),
// forgetting with a memory of about 5000 samples, and a Pareto prior (3 / z)^2 beyond what was
// seen, weighted as one sample. Calling probability() also learns z.
class TailCalibration {
public:
  static constexpr std::size_t k_bins = 64;
  [[nodiscard]] double probability(double z) noexcept;

private:
  std::array<float, k_bins> m_weights{};
  double m_next_weight = 1; // forgetting: each sample weighs more than the one before
  double m_total = 0;
};

// The range of values seen. It forgets slowly (shrinks by at most 0.3% of its width per day and
// 0.002% per sample), so a daily peak stays inside it and a range seen weeks ago is still known.
class Envelope {
public:
  void reset(double x) noexcept { m_low = m_high = x; }
  // P of a value beyond the envelope by more than 2% of its width w: a new extreme among n
  // exchangeable samples has chance 2 / n (n capped at 2000), times 10^(-7 excess / w). 1 inside.
  // Then the envelope learns x. `count` samples seen, `dt_ms` since the previous sample.
  [[nodiscard]] double probability(double x, std::uint64_t count, double dt_ms) noexcept;
  // After a level shift: the new level's own noise is not news.
  void widen(double center, double half_width) noexcept;
  [[nodiscard]] double low() const noexcept { return m_low; }
  [[nodiscard]] double high() const noexcept { return m_high; }

private:
  double m_low = 0;
  double m_high = 0;
};

// The mean of the value per 5 minutes of the day (288 bins), relative to a slow mean (about a
// day): each visit moves its bin half way to the value per day of data. The time of day is
// t_ms modulo 24 h: a monotonic clock works, only the period matters.
class DailyProfile {
public:
  static constexpr std::size_t k_bins = 288;
  void reset(double x) noexcept { m_mean = x; }
  // The expected deviation from the mean at t_ms (0 for a bin never visited).
  [[nodiscard]] double expected(std::int64_t t_ms) const noexcept;
  [[nodiscard]] double mean() const noexcept { return m_mean; }
  void learn(double x, std::int64_t t_ms, double dt_ms, std::uint64_t count) noexcept;

private:
  [[nodiscard]] static std::size_t bin_of(std::int64_t t_ms) noexcept;
  [[nodiscard]] bool visited(std::size_t bin) const noexcept {
    return (m_visited[bin / 8] & (1U << (bin % 8))) != 0;
  }

  std::array<float, k_bins> m_deviation{};
  std::array<std::uint8_t, k_bins / 8> m_visited{};
  double m_mean = 0;
};

// One time scale: the value smoothed with `gain` (1: the raw value), predicted two ways:
//  - local: its own running level;
//  - seasonal: the daily profile's prediction (the residual smoothed the same way).
// z = the local z for the first day; then the seasonal z alone when the seasonal residuals are
// clearly smaller (scale below 0.7 times the local one), else min(local, seasonal): a value must
// be surprising both for the recent level and for the time of day.
// Its surprise is the smaller of two probabilities: z's calibrated tail, and a new extreme of
// the smoothed value beyond its envelope.
class ScaleModel {
public:
  void reset(double x) noexcept;
  // -log10 of the probability of this sample at this scale ("decades"), then learns it.
  // `residual` is x minus the daily profile's prediction; `seasonal` once a day has been seen.
  [[nodiscard]] double surprise(double x, double residual, double gain, bool seasonal,
                                std::uint64_t count, double dt_ms) noexcept;
  [[nodiscard]] bool finite() const noexcept;

private:
  double m_value = 0;    // smoothed value
  double m_residual = 0; // smoothed seasonal residual
  RobustTrack m_local;
  RobustTrack m_seasonal;
  TailCalibration m_tail;
  Envelope m_envelope;
};

// "News once": an anomaly is reported on the sample where it is first seen, and again only when
// it grows. The score passes when it exceeds a memory of recent scores by 0.1; the memory jumps
// to each score and decays by 0.2% per sample (half-life about 350 samples).
class Suppression {
public:
  [[nodiscard]] double filter(double score) noexcept;

private:
  double m_memory = 0;
};

// A rest period after a clear alarm (score above 0.5, p < 1e-3), as CAD OSE rests after each
// detection: for the next 150 samples a score passes only if it exceeds that alarm's score by
// 0.3 (an escalation), so one incident reports once, not once per aftershock. Applied after
// Suppression.
class RestPeriod {
public:
  [[nodiscard]] double filter(double score) noexcept;

private:
  double m_alarm = 0;       // the score of the alarm that started the rest
  std::uint32_t m_left = 0; // samples left in the rest
};

} // namespace medic::detect::anomaly
