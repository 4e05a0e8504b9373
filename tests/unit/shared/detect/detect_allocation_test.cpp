// SPDX-License-Identifier: Apache-2.0
// Proves the detectors allocate only in their constructors. This file replaces the global
// operator new and delete of the whole unit-test program with versions that forward to malloc
// and free and, on the thread that asks, count allocations while counting is switched on. They
// are kept out of line so that g++ does not see a new-expression paired with free().
#include <cmath>
#include <cstdlib>
#include <new>

#include <catch2/catch.hpp>

#include "shared/detect/anomaly_detector.hpp"
#include "shared/detect/leak_detector.hpp"
#include "shared/detect/rate_detector.hpp"
#include "shared/detect/threshold_detector.hpp"
#include "shared/detect/trend_detector.hpp"

namespace {

thread_local bool t_counting = false;
thread_local std::size_t t_allocations = 0;

void* allocate(std::size_t size, std::size_t alignment) noexcept {
  if (t_counting) {
    ++t_allocations;
  }
  size = size == 0 ? 1 : size;
  if (alignment <= alignof(std::max_align_t)) {
    return std::malloc(size);
  }
  return std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}

void* allocate_or_throw(std::size_t size, std::size_t alignment) {
  void* memory = allocate(size, alignment);
  if (memory == nullptr) {
    throw std::bad_alloc();
  }
  return memory;
}

// Counts the allocations made by `work` on this thread.
template <class Work>
std::size_t allocations_in(Work&& work) {
  t_allocations = 0;
  t_counting = true;
  work();
  t_counting = false;
  return t_allocations;
}

} // namespace

[[gnu::noinline]] void* operator new(std::size_t size) {
  return allocate_or_throw(size, 0);
}
[[gnu::noinline]] void* operator new[](std::size_t size) {
  return allocate_or_throw(size, 0);
}
[[gnu::noinline]] void* operator new(std::size_t size, std::align_val_t alignment) {
  return allocate_or_throw(size, static_cast<std::size_t>(alignment));
}
[[gnu::noinline]] void* operator new[](std::size_t size, std::align_val_t alignment) {
  return allocate_or_throw(size, static_cast<std::size_t>(alignment));
}
[[gnu::noinline]] void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return allocate(size, 0);
}
[[gnu::noinline]] void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return allocate(size, 0);
}
[[gnu::noinline]] void* operator new(std::size_t size, std::align_val_t alignment,
                                     const std::nothrow_t&) noexcept {
  return allocate(size, static_cast<std::size_t>(alignment));
}
[[gnu::noinline]] void* operator new[](std::size_t size, std::align_val_t alignment,
                                       const std::nothrow_t&) noexcept {
  return allocate(size, static_cast<std::size_t>(alignment));
}
[[gnu::noinline]] void operator delete(void* memory) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory, std::size_t) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete(void* memory, std::align_val_t) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory, std::align_val_t) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete(void* memory, std::size_t, std::align_val_t) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory, std::size_t, std::align_val_t) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete(void* memory, const std::nothrow_t&) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory, const std::nothrow_t&) noexcept {
  std::free(memory);
}

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
  CHECK(allocations_in([] { delete new int(1); }) == 1);
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
