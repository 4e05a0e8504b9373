// SPDX-License-Identifier: Apache-2.0
// medic-detect-bench: what the numeric detectors of shared/detect cost per update, and how much
// memory each holds, with their default specs.
//
// Every detector is fed the same noisy, slowly growing series (precomputed, so the noise
// generator is not measured). Two sample intervals: 10 s (the agent's usual pace: trend and leak
// open a bucket every 67 and 5.6 samples) and 15 min (slower than any default bucket, so every
// sample opens one: the worst case for trend; the leak window then never holds enough buckets).
// Figures are the median over rounds of the mean CPU ns per update (thread CPU time, so other
// processes on a busy machine count less), and the 99.9th percentile of single updates timed one by
// one on the wall clock (which adds about 20 ns of clock reading): the updates that run a fit.
//
// Memory: sizeof the object plus the heap bytes its constructor allocated (counted by the
// operator new of this program). update() allocates nothing (tests/unit/shared/detect).
//
// Prints Markdown to stdout.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "shared/detect/anomaly_detector.hpp"
#include "shared/detect/leak_detector.hpp"
#include "shared/detect/rate_detector.hpp"
#include "shared/detect/threshold_detector.hpp"
#include "shared/detect/trend_detector.hpp"

namespace {

std::size_t g_heap_bytes = 0;

} // namespace

void* operator new(std::size_t size) {
  g_heap_bytes += size;
  void* memory = std::malloc(size == 0 ? 1 : size);
  if (memory == nullptr) {
    throw std::bad_alloc();
  }
  return memory;
}
void operator delete(void* memory) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}

namespace medic::bench {

namespace {

using Clock = std::chrono::steady_clock;

double thread_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

constexpr std::size_t k_samples = 1 << 20;
constexpr int k_rounds = 7;

// 40% growing by 1% per hour with noise of 1%, and a spike one sample in 5000.
std::vector<double> make_series() {
  std::mt19937 engine(42);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<double> values(k_samples);
  for (std::size_t i = 0; i < k_samples; ++i) {
    const double trend = 40.0 + static_cast<double>(i % 20'000) * 0.01 / 36.0;
    const double noise = uniform(engine) + uniform(engine) + uniform(engine);
    values[i] = trend + noise * 0.6 + (i % 5000 == 4999 ? 30.0 : 0.0);
  }
  return values;
}

struct Timing {
  double mean_ns = 0;
  double p999_ns = 0;
};

template <class Make>
Timing time_updates(Make make, const std::vector<double>& values, std::int64_t step_ms) {
  std::vector<double> means;
  for (int round = 0; round < k_rounds; ++round) {
    auto detector = make();
    const double start = thread_cpu_ns();
    std::int64_t t_ms = 0;
    for (const double value : values) {
      detector.update(value, t_ms);
      t_ms += step_ms;
    }
    means.push_back((thread_cpu_ns() - start) / static_cast<double>(values.size()));
  }
  std::sort(means.begin(), means.end());
  std::vector<double> single;
  single.reserve(values.size());
  auto detector = make();
  std::int64_t t_ms = 0;
  for (const double value : values) {
    const auto start = Clock::now();
    detector.update(value, t_ms);
    single.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
    t_ms += step_ms;
  }
  const std::size_t rank = single.size() - single.size() / 1000;
  std::nth_element(single.begin(), single.begin() + static_cast<std::ptrdiff_t>(rank),
                   single.end());
  return Timing{means[means.size() / 2], single[rank]};
}

template <class Make>
void report(const char* name, Make make, const std::vector<double>& values) {
  const std::size_t before = g_heap_bytes;
  const auto detector = make();
  const std::size_t heap = g_heap_bytes - before;
  const Timing fast = time_updates(make, values, 10'000);
  const Timing slow = time_updates(make, values, 15 * 60'000);
  std::printf("| %s | %.1f | %.0f | %.1f | %.0f | %zu | %zu | %zu |\n", name, fast.mean_ns,
              fast.p999_ns, slow.mean_ns, slow.p999_ns, sizeof(detector), heap,
              sizeof(detector) + heap);
}

} // namespace

int run() {
  const std::vector<double> values = make_series();
  std::printf("## Numeric detectors, default specs, %zu updates per round\n\n", k_samples);
  std::printf(
      "| detector | CPU ns/update, 10 s samples | p99.9 ns | CPU ns/update, 15 min samples "
      "| p99.9 ns | sizeof | heap bytes | state bytes |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  report(
      "threshold",
      [] {
        detect::ThresholdSpec spec;
        spec.fire_level = 60;
        return detect::ThresholdDetector(spec);
      },
      values);
  report(
      "rate",
      [] {
        detect::RateSpec spec;
        spec.fire_level = 1;
        return detect::RateDetector(spec);
      },
      values);
  report(
      "trend", [] { return detect::TrendDetector(detect::TrendSpec{}); }, values);
  report(
      "leak", [] { return detect::LeakDetector(detect::LeakSpec{}); }, values);
  report(
      "anomaly", [] { return detect::AnomalyDetector(detect::AnomalySpec{}); }, values);
  return 0;
}

} // namespace medic::bench

int main() {
  return medic::bench::run();
}
