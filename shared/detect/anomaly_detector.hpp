// SPDX-License-Identifier: Apache-2.0
// AnomalyDetector: a streaming anomaly score in [0, 1] for any series, cheap enough to run on
// every metric of every host (about 0.2 µs per update, 2 KiB of state, no allocation,
// deterministic). The model has one fixed configuration; the spec only says when to alarm.
//
// The model (parts in anomaly_model.hpp), per sample:
//  1. Two time scales look at the series: the raw value, and the value smoothed over about 16
//     samples (an exponential average), so a sustained change that no single sample shows is
//     seen too. At each scale the value is predicted two ways, each with a robust scale:
//       - local: a running level (each residual, clipped at 4 scales, moves it by 10%);
//       - seasonal: a slow mean (about a day) plus a time-of-day profile (288 bins of 5
//         minutes, each learning half of the difference per day) plus a running level of the
//         rest. z = the local z for the first day, then min(z local, z seasonal): the value must
//         be surprising both for the recent level and for the time of day, so a daily pattern
//         does not alarm; but when the seasonal residuals are clearly smaller, z seasonal alone,
//         so that a missing daily event is seen.
//  2. Level shifts: 4 residuals in a row beyond 3 scales on the same side re-centre the level
//     on the new value (and widen the envelope of step 4 around it): a shift alarms for a few
//     samples, then the new level is normal.
//  3. Calibration: z becomes a tail probability p = P(Z >= z) from a histogram of this scale's
//     own past z values (about 5000 samples of memory, a Pareto prior beyond what was seen). A
//     spiky series needs a larger z than a quiet one for the same p, so one threshold suits
//     every series.
//  4. Novel range: a value outside the envelope of the values seen at its scale, by more than 2%
//     of the envelope's width w, counts as p = 2 / min(n, 2000) * 10^(-7 * excess / w) when that
//     is smaller (a new extreme among n exchangeable values has chance 2 / n). The envelope
//     forgets slowly: it shrinks by at most 0.3% of its width per day and 0.002% per sample.
//  5. raw = clamp((-log10(p) - 0.5) / 5, 0, 1) for the smallest p of both scales: p = 1e-3
//     gives 0.5, p <= 10^-5.5 gives 1.
//  6. News once: the score is raw where raw exceeds a memory of recent raw scores by 0.1, else
//     0. The memory jumps to each raw score and decays by 0.2% per sample, so an anomaly scores
//     on the sample where it is first seen and again only if it grows, not on every sample of a
//     burst.
//  7. Rest period (as CAD OSE rests after each detection): after a clear alarm (score above 0.5,
//     p < 1e-3) the next 150 samples pass only a score 0.3 above that alarm's, an escalation; the
//     aftershocks of one incident do not alarm again.
// The first `warmup` samples score 0. A non-finite internal state (values near the limits of
// double) restarts the model from the current sample.
//
// How the configuration was chosen: by sense first, then checked against the Numenta Anomaly
// Benchmark (tests/quality/nab, BENCHMARKS.md "Detection quality: NAB"), one configuration for
// every series, never per series; the choices that mattered there (the slow scale, the range
// novelty at both scales, the news-once score, the rest period) are principled, not fitted to
// single files.
//
// Firing: fires on the first sample with score >= fire_score; clears once the score has stayed
// below clear_score for clear_for. With the news-once score an alarm marks the onset of an
// anomaly and clears clear_for later unless the anomaly keeps growing.
//
// Defaults: fire_score 0.7 (p = 1e-4), clear_score 0.3, clear_for 5m, warmup 120 samples.
// A benchmark that sweeps a threshold (NAB) scores score(), not the alarms.
// Figure: score().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "shared/detect/anomaly_model.hpp"
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
  struct Model {
    std::uint64_t count = 0;
    std::int64_t first_ms = 0;
    std::int64_t last_ms = 0;
    anomaly::DailyProfile profile;
    anomaly::ScaleModel fast; // the raw value
    anomaly::ScaleModel slow; // smoothed over about 16 samples
  };

  // -log10 of the smallest probability of this sample over both scales, then learns it.
  [[nodiscard]] double surprise(double value, std::int64_t t_ms) noexcept;

  AnomalySpec m_spec;
  InputFilter m_filter;
  Latch m_latch;
  Model m_model;
  anomaly::Suppression m_suppression;
  anomaly::RestPeriod m_rest;
  double m_score = 0;
};

} // namespace medic::detect
