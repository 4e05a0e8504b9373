// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/bucket_series.hpp"

#include <algorithm>
#include <limits>

namespace medic::detect {

namespace {

constexpr double k_ms_per_second = 1000.0;

} // namespace

double median_in_place(std::span<double> values) noexcept {
  if (values.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const std::size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(middle),
                   values.end());
  const double upper = values[middle];
  if (values.size() % 2 == 1) {
    return upper;
  }
  // nth_element leaves everything below the middle in the lower half.
  const double lower =
      *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(middle));
  return lower + (upper - lower) / 2;
}

BucketSeries::BucketSeries(std::size_t capacity, std::int64_t bucket_ms)
    : m_buckets(capacity),
      m_scratch(m_buckets.capacity() * (m_buckets.capacity() - 1) / 2 + 1),
      m_times(m_buckets.capacity()),
      m_values(m_buckets.capacity()),
      m_bucket_ms(std::max<std::int64_t>(bucket_ms, 1)) {}

bool BucketSeries::add(double value, std::int64_t t_ms) noexcept {
  if (!m_origin_ms) {
    m_origin_ms = t_ms;
  }
  const double t = seconds(t_ms);
  if (!m_buckets.empty() && t_ms - m_buckets.back().first_ms < m_bucket_ms) {
    Bucket& bucket = m_buckets.back();
    ++bucket.count;
    const double weight = 1.0 / static_cast<double>(bucket.count);
    bucket.t += (t - bucket.t) * weight;
    bucket.value += (value - bucket.value) * weight;
    bucket.last_ms = t_ms;
    return false;
  }
  m_buckets.push_back(Bucket{t_ms, t_ms, t, value, 1});
  ++m_opened_since_slope;
  return true;
}

void BucketSeries::expire(std::int64_t oldest_ms) noexcept {
  while (!m_buckets.empty() && m_buckets.front().last_ms < oldest_ms) {
    m_buckets.pop_front();
  }
}

std::int64_t BucketSeries::span_ms() const noexcept {
  if (m_buckets.empty()) {
    return 0;
  }
  return m_buckets.back().last_ms - m_buckets.front().first_ms;
}

double BucketSeries::seconds(std::int64_t t_ms) const noexcept {
  return static_cast<double>(t_ms - m_origin_ms.value_or(t_ms)) / k_ms_per_second;
}

std::optional<double> BucketSeries::slope(std::size_t every) noexcept {
  const std::size_t n = m_buckets.size();
  if (n < 2) {
    m_slope.reset();
    return std::nullopt;
  }
  if (m_slope && m_opened_since_slope < every) {
    return m_slope;
  }
  m_opened_since_slope = 0;
  m_slope = fit_slope();
  return m_slope;
}

std::optional<double> BucketSeries::fit_slope() noexcept {
  // Copy the points out of the ring first: the pair loop then indexes plain arrays.
  const std::size_t n = m_buckets.size();
  for (std::size_t i = 0; i < n; ++i) {
    m_times[i] = m_buckets[i].t;
    m_values[i] = m_buckets[i].value;
  }
  std::size_t count = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const double dt = m_times[j] - m_times[i];
      if (dt > 0) {
        m_scratch[count++] = (m_values[j] - m_values[i]) / dt;
      }
    }
  }
  if (count == 0) {
    return std::nullopt;
  }
  return median_in_place(std::span<double>(m_scratch.data(), count));
}

double BucketSeries::level_at(double slope, double t, std::size_t first,
                              std::size_t count) noexcept {
  const std::size_t n = m_buckets.size();
  first = std::min(first, n);
  count = std::min(count, n - first);
  for (std::size_t k = 0; k < count; ++k) {
    const Bucket& bucket = m_buckets[first + k];
    m_scratch[k] = bucket.value + slope * (t - bucket.t);
  }
  return median_in_place(std::span<double>(m_scratch.data(), count));
}

} // namespace medic::detect
