// SPDX-License-Identifier: Apache-2.0
// Proves the detectors allocate only in their constructors (allocations counted with
// tests/support/allocation_counter).
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "shared/detect/anomaly_detector.hpp"
#include "shared/detect/leak_detector.hpp"
#include "shared/detect/rate_detector.hpp"
#include "shared/detect/threshold_detector.hpp"
#include "shared/detect/trend_detector.hpp"
#include "tests/support/allocation_counter.hpp"

using medic::test::allocations_in;

namespace {

// A series that visits every path: growth, noise, spikes, drops (counter resets, restarts),
// NaN and backwards timestamps.
double series(std::int64_t i) {
  const double base = 1e9 + 1e5 * static_cast<double>(i % 5000);
  const double wobble = 1e6 * std::sin(static_cast<double>(i) * 0.7);
  return i % 997 == 0 ? base * 5 : base + wobble;
}

template <class Detector>
std::size_t allocations_updating(Detector& detector) {
  return allocations_in([&] {
    for (std::int64_t i = 0; i < 100'000; ++i) {
      const double value = i % 1013 == 0 ? std::nan("") : series(i);
      const std::int64_t t_ms = i % 501 == 0 ? 0 : i * 10'000;
      detector.update(value, t_ms);
    }
  });
}

} // namespace

TEST_CASE("the allocation counter sees allocations", "[detect]") {
  if (!medic::test::allocation_counting_works()) {
    WARN("operator new is not ours here (a sanitizer's allocator): allocation counts skipped");
    return;
  }
  // The compiler may merge or drop new-expressions whose result is unused, so the work keeps
  // what it allocated observable.
  std::vector<std::string> kept;
  CHECK(allocations_in([&] { kept.emplace_back(100, 'x'); }) >= 1);
  CHECK(kept.size() == 1);
}

TEST_CASE("detectors do not allocate in update()", "[detect]") {
  medic::detect::ThresholdSpec threshold_spec;
  threshold_spec.fire_level = 1.2e9;
  medic::detect::ThresholdDetector threshold(threshold_spec);
  medic::detect::RateSpec rate_spec;
  rate_spec.kind = medic::detect::SeriesKind::counter;
  medic::detect::RateDetector rate(rate_spec);
  medic::detect::TrendSpec trend_spec;
  trend_spec.limit = 2e9;
  medic::detect::TrendDetector trend(trend_spec);
  medic::detect::LeakDetector leak{medic::detect::LeakSpec{}};
  medic::detect::AnomalyDetector anomaly;

  CHECK(allocations_updating(threshold) == 0);
  CHECK(allocations_updating(rate) == 0);
  CHECK(allocations_updating(trend) == 0);
  CHECK(allocations_updating(leak) == 0);
  CHECK(allocations_updating(anomaly) == 0);
  CHECK(leak.restarts() > 0);
  CHECK(rate.resets() > 0);
}
