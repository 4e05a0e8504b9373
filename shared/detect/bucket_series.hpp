// SPDX-License-Identifier: Apache-2.0
// BucketSeries: the recent part of a series, downsampled into time buckets kept in a ring
// allocated once; and the Theil–Sen robust line fitted through them. Internal to shared/detect:
// TrendDetector and LeakDetector are built on it.
//
// A sample joins the newest bucket while it is less than `bucket_ms` after that bucket's first
// sample, else it opens a new bucket (dropping the oldest when the ring is full). A bucket keeps
// the mean time and mean value of its samples: averaging cuts the noise before the fit and keeps
// a long window in a small ring, and the mean point of samples on a straight line lies on that
// line. When samples come less often than bucket_ms, every sample is its own bucket.
//
// Why Theil–Sen (the median of the slopes between all pairs of points): it ignores up to 29% of
// arbitrarily bad points (spikes, a temporary file created and deleted) and, with Gaussian
// noise, is nearly as precise as least squares (about 90% efficiency, where the repeated median
// has about 60%). Its cost is O(n²) time and n(n-1)/2 doubles of scratch, bounded by keeping n
// (the ring capacity) small and by fitting only when a bucket is opened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "shared/detect/fixed_ring.hpp"

namespace medic::detect {

class BucketSeries {
public:
  struct Bucket {
    std::int64_t first_ms = 0;
    std::int64_t last_ms = 0;
    double t = 0;     // mean time, seconds since the series' origin (its first sample ever)
    double value = 0; // mean value
    std::uint32_t count = 0;
  };

  // Allocates the ring and the fit's scratch (capacity * (capacity + 3) / 2 doubles).
  BucketSeries(std::size_t capacity, std::int64_t bucket_ms);

  // Returns true when the sample opened a new bucket.
  bool add(double value, std::int64_t t_ms) noexcept;
  // Drops the buckets whose last sample is before `oldest_ms`.
  void expire(std::int64_t oldest_ms) noexcept;
  void clear() noexcept {
    m_buckets.clear();
    m_slope.reset();
  }

  [[nodiscard]] std::size_t size() const noexcept { return m_buckets.size(); }
  [[nodiscard]] const Bucket& operator[](std::size_t index) const noexcept {
    return m_buckets[index];
  }
  // From the oldest bucket's first sample to the newest bucket's last; 0 when empty.
  [[nodiscard]] std::int64_t span_ms() const noexcept;
  // t_ms on the time axis of Bucket::t.
  [[nodiscard]] double seconds(std::int64_t t_ms) const noexcept;

  // Theil–Sen slope (value per second) through the buckets; nullopt with fewer than two
  // distinct bucket times. Recomputed only when at least `every` buckets were opened since the
  // last computation (or none is kept, or after clear()), so the O(n²) fit is spread over
  // `every` buckets; otherwise the kept slope is returned.
  [[nodiscard]] std::optional<double> slope(std::size_t every = 1) noexcept;
  // The line's level at time `t` (seconds): the median of value_i + slope * (t - t_i) over
  // `count` buckets from index `first` (fewer when the series ends sooner). A robust intercept
  // that follows the level of those buckets: the newest for the current level.
  [[nodiscard]] double level_at(double slope, double t, std::size_t first,
                                std::size_t count) noexcept;

private:
  [[nodiscard]] std::optional<double> fit_slope() noexcept;

  FixedRing<Bucket> m_buckets;
  std::vector<double> m_scratch; // pair slopes, or the projections of level_at()
  std::vector<double> m_times;   // the buckets copied out of the ring for the pair loop
  std::vector<double> m_values;
  std::int64_t m_bucket_ms;
  std::optional<std::int64_t> m_origin_ms;
  std::optional<double> m_slope;
  std::size_t m_opened_since_slope = 0;
};

// Median of `values`, reordering them; NaN when empty.
[[nodiscard]] double median_in_place(std::span<double> values) noexcept;

} // namespace medic::detect
