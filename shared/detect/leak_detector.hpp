// SPDX-License-Identifier: Apache-2.0
// LeakDetector: a memory leak, seen as sustained growth of a process's RSS (or any series that
// should stay level) over a window.
//
// Samples are averaged into `capacity` time buckets of window / capacity each (see
// bucket_series.hpp); buckets whose last sample is older than `window` are dropped. Every time a
// sample opens a new bucket the evidence is recomputed over the buckets:
//   - slope: Theil–Sen slope, value per second (the O(capacity²) fit, redone every 4th bucket);
//   - growth: slope * (time from the oldest to the newest bucket);
//   - floor growth: the lowest bucket of the newest third minus the lowest of the oldest third;
//   - start level: the median of the 5 oldest buckets projected along the slope to the oldest;
//   - rising fraction: the fraction of steps between consecutive buckets that do not go down.
// It fires when, with at least `min_points` buckets spanning at least `min_span`, slope > 0,
// rising fraction >= min_rising_fraction, and both growth and floor growth reach
// min_growth_bytes and min_growth_percent % of the start level.
//
// The floor growth is what keeps a garbage collector's sawtooth (climb, collect, climb) that
// nets no growth from firing: each third of the window holds a collection, so the floors match,
// while the climbs alone would make the slope look like a leak. A sawtooth whose floor climbs
// still fires. So the window must hold at least three collector cycles (10 minutes apart with
// the default 30-minute window).
//
// It clears when the evidence is gone: too few buckets or too short a span, slope <= 0, or
// growth or floor growth below clear_factor times either minimum.
//
// A restart: a sample below (1 - restart_drop_fraction) times the previous sample throws the
// buckets away (counted in restarts()) and clears at once if firing; the growth must then be
// seen again over min_span.
//
// Defaults: window 30m, min_span 20m, min_points 12, capacity 32 (56.25s buckets),
// min_growth_bytes 32 MiB, min_growth_percent 10, min_rising_fraction 0.65,
// restart_drop_fraction 0.5, clear_factor 0.5.
// Figure: slope_per_second() (bytes per second); growth() over the window.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "shared/detect/bucket_series.hpp"
#include "shared/detect/latch.hpp"
#include "shared/error.hpp"

namespace medic::detect {

struct LeakSpec {
  std::chrono::milliseconds window{std::chrono::minutes(30)};
  std::chrono::milliseconds min_span{std::chrono::minutes(20)};
  std::size_t min_points = 12; // 3..capacity buckets
  std::size_t capacity = 32;   // 4..128 buckets
  double min_growth_bytes = 32.0 * 1024 * 1024;
  double min_growth_percent = 10;     // of the level at the start of the window, 0..10000
  double min_rising_fraction = 0.65;  // 0..1
  double restart_drop_fraction = 0.5; // 0.01..1; 1 never restarts
  double clear_factor = 0.5;          // 0..1

  [[nodiscard]] Result<void> validate() const;
};

class LeakDetector {
public:
  // What the last evaluation saw; see the header comment.
  struct Evidence {
    double slope = 0; // per second
    double growth = 0;
    double floor_growth = 0;
    double start_level = 0;
    double rising_fraction = 0;
  };

  // Allocates the buckets and the fit's scratch (about 4.5 KiB with the defaults). The spec
  // should have passed validate(); an invalid one gives meaningless alarms, never UB.
  explicit LeakDetector(const LeakSpec& spec);
  [[nodiscard]] static Result<LeakDetector> create(const LeakSpec& spec);

  Transition update(double value, std::int64_t t_ms) noexcept;

  [[nodiscard]] bool firing() const noexcept { return m_latch.firing(); }
  // nullopt until a credible window was evaluated, and again after a restart.
  [[nodiscard]] const std::optional<Evidence>& evidence() const noexcept { return m_evidence; }
  [[nodiscard]] std::optional<double> slope_per_second() const noexcept;
  [[nodiscard]] std::optional<double> growth() const noexcept;
  [[nodiscard]] std::uint64_t restarts() const noexcept { return m_restarts; }
  [[nodiscard]] const LeakSpec& spec() const noexcept { return m_spec; }
  [[nodiscard]] const InputFilter& inputs() const noexcept { return m_filter; }

private:
  [[nodiscard]] bool restarted(double value) const noexcept;
  void evaluate() noexcept;
  // Both growth figures reach `factor` times both minimums.
  [[nodiscard]] bool grew(double factor) const noexcept;

  LeakSpec m_spec;
  InputFilter m_filter;
  Latch m_latch;
  BucketSeries m_series;
  std::optional<Evidence> m_evidence;
  std::optional<double> m_last_value;
  std::uint64_t m_restarts = 0;
};

} // namespace medic::detect
