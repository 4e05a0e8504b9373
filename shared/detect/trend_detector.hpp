// SPDX-License-Identifier: Apache-2.0
// TrendDetector: predictive capacity warning ("disk full within 4 h", "memory exhausted within
// 30 min"). Fits a robust line through the recent `window` of the series and predicts how long
// until it reaches `limit`.
//
// Fit: samples are averaged into `capacity` time buckets of window / capacity each (see
// bucket_series.hpp); buckets whose last sample is older than `window` are dropped. When a
// sample opens a new bucket, the current level is taken as the median of the 5 newest buckets
// projected along the slope to now, so a sudden drop (files deleted) shows within a few buckets
// instead of being averaged over the window; the Theil–Sen slope through all the buckets is
// refitted every 4th new bucket. Between buckets the level moves along the slope.
//
// Prediction, for approach = rising (falling is the mirror image, limit below the value):
// seconds until the level reaches `limit` = (limit - level) / slope when slope > 0; 0 when the
// level is already at or past the limit; none when the slope is 0 or points away. It exists only
// while the fit is credible: at least `min_points` buckets spanning at least `min_span` (from the
// oldest bucket's first sample to the newest sample).
//
// Firing: fires when the prediction is below `horizon`; clears when there is no prediction any
// more (fit not credible, slope flat or away) or it is above horizon * clear_factor.
//
// Cost: the O(capacity²) fit runs once per 4 buckets (once per 4 samples when samples come less
// often than window / capacity), the level once per bucket; other samples cost a few
// comparisons.
//
// Defaults: limit 100, rising, horizon 4h, window 6h, min_span 1h, min_points 6, capacity 32
// (11m15s buckets), clear_factor 1.5.
// Figure: predicted_seconds().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "shared/detect/bucket_series.hpp"
#include "shared/detect/latch.hpp"
#include "shared/error.hpp"

namespace medic::detect {

// The direction in which the series approaches its limit.
enum class Approach : std::uint8_t { rising, falling };

[[nodiscard]] std::string_view to_string(Approach approach) noexcept;

struct TrendSpec {
  double limit = 100;
  Approach approach = Approach::rising;
  std::chrono::milliseconds horizon{std::chrono::hours(4)};
  std::chrono::milliseconds window{std::chrono::hours(6)};
  std::chrono::milliseconds min_span{std::chrono::hours(1)};
  std::size_t min_points = 6; // 3..capacity buckets
  std::size_t capacity = 32;  // 4..128 buckets
  double clear_factor = 1.5;  // 1..1000

  [[nodiscard]] Result<void> validate() const;
};

class TrendDetector {
public:
  // Allocates the buckets and the fit's scratch (about 4.5 KiB with the defaults). The spec
  // should have passed validate(); an invalid one gives meaningless alarms, never UB.
  explicit TrendDetector(const TrendSpec& spec);
  [[nodiscard]] static Result<TrendDetector> create(const TrendSpec& spec);

  Transition update(double value, std::int64_t t_ms) noexcept;

  [[nodiscard]] bool firing() const noexcept { return m_latch.firing(); }
  // Seconds until the limit is reached, as of the last sample; see the prediction rules above.
  [[nodiscard]] std::optional<double> predicted_seconds() const noexcept { return m_predicted; }
  // The fitted slope (value per second) and level at the last sample, while the fit is credible.
  [[nodiscard]] std::optional<double> slope_per_second() const noexcept;
  [[nodiscard]] std::optional<double> level() const noexcept;
  [[nodiscard]] const TrendSpec& spec() const noexcept { return m_spec; }
  [[nodiscard]] const InputFilter& inputs() const noexcept { return m_filter; }

private:
  struct Fit {
    double slope = 0;
    double level = 0; // at time t
    double t = 0;     // seconds on the series' time axis
  };

  void refit(double t) noexcept;
  [[nodiscard]] std::optional<double> predict(double t) const noexcept;

  TrendSpec m_spec;
  InputFilter m_filter;
  Latch m_latch;
  BucketSeries m_series;
  std::optional<Fit> m_fit;
  bool m_credible = false;
  double m_level = 0; // m_fit's level moved to the last sample
  std::optional<double> m_predicted;
};

} // namespace medic::detect
