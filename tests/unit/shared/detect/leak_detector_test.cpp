// SPDX-License-Identifier: Apache-2.0
#include <cmath>

#include <catch2/catch.hpp>

#include "shared/detect/leak_detector.hpp"
#include "tests/unit/shared/detect/series_noise.hpp"

using namespace std::chrono_literals;
using medic::detect::LeakDetector;
using medic::detect::LeakSpec;
using medic::detect::Transition;
using medic::detect::test::Noise;

namespace {

constexpr std::int64_t k_minute_s = 60;
constexpr std::int64_t k_hour_s = 3600;

constexpr double k_mib = 1024.0 * 1024.0;
constexpr std::int64_t k_step_s = 10;

struct Run {
  std::int64_t first_fire_s = -1;
  int fires = 0;
  int clears = 0;
};

// Feeds rss(t) every 10 s for `seconds`.
template <class Rss>
Run feed(LeakDetector& detector, std::int64_t seconds, Rss rss, std::int64_t from_s = 0) {
  Run run;
  for (std::int64_t t = from_s; t <= from_s + seconds; t += k_step_s) {
    const Transition transition = detector.update(rss(t), t * 1000);
    if (transition == Transition::fire) {
      ++run.fires;
      if (run.first_fire_s < 0) {
        run.first_fire_s = t;
      }
    }
    run.clears += transition == Transition::clear ? 1 : 0;
  }
  return run;
}

// A garbage-collected heap: climbs 100 MiB over `period_s`, then a collection takes it back.
double sawtooth(std::int64_t t, std::int64_t period_s, double floor_mib) {
  const double phase = static_cast<double>(t % period_s) / static_cast<double>(period_s);
  return (floor_mib + 100.0 * phase) * k_mib;
}

} // namespace

TEST_CASE("leak fires on steady growth once the window is credible", "[detect]") {
  Noise noise(3);
  LeakDetector detector(LeakSpec{});
  // 200 MiB growing 2 MiB per minute with 1 MiB of noise: 40 MiB (20%) per 20 min.
  const Run run = feed(detector, 3600, [&](std::int64_t t) {
    return (200.0 + 2.0 * static_cast<double>(t) / 60.0 + noise.normal(1.0)) * k_mib;
  });
  CHECK(run.fires == 1);
  CHECK(run.clears == 0);
  CHECK(run.first_fire_s >= 20 * k_minute_s); // min_span
  CHECK(run.first_fire_s <= 22 * k_minute_s);
  REQUIRE(detector.slope_per_second());
  CHECK(*detector.slope_per_second() / k_mib == Approx(2.0 / 60).epsilon(0.1));
  CHECK(*detector.growth() / k_mib == Approx(60.0).epsilon(0.1)); // over ~30 min
}

TEST_CASE("leak does not fire on a garbage collector's sawtooth", "[detect]") {
  for (const std::int64_t period_s : {60, 240, 600}) {
    CAPTURE(period_s);
    Noise noise(5);
    LeakDetector detector(LeakSpec{});
    const Run run = feed(detector, 4 * k_hour_s, [&](std::int64_t t) {
      return sawtooth(t, period_s, 300) + noise.normal(0.5) * k_mib;
    });
    CHECK(run.fires == 0);
  }
}

TEST_CASE("leak fires on a sawtooth whose floor climbs", "[detect]") {
  LeakDetector detector(LeakSpec{});
  // The floor climbs 4 MiB per minute under a 100 MiB sawtooth of 4 minutes.
  const Run run = feed(detector, 2 * k_hour_s, [&](std::int64_t t) {
    return sawtooth(t, 240, 300.0 + 4.0 * static_cast<double>(t) / 60.0);
  });
  CHECK(run.fires == 1);
}

TEST_CASE("leak ignores a flat noisy process", "[detect]") {
  Noise noise(9);
  LeakDetector detector(LeakSpec{});
  const Run run = feed(detector, 6 * k_hour_s,
                       [&](std::int64_t) { return (500.0 + noise.normal(5.0)) * k_mib; });
  CHECK(run.fires == 0);
}

TEST_CASE("leak growth below the minimums does not fire", "[detect]") {
  LeakDetector small(LeakSpec{});
  // 20 MiB process growing 1 MiB/min: 100% but only 20 MiB per 20 min.
  CHECK(feed(small, 3600, [](std::int64_t t) {
          return (20.0 + static_cast<double>(t) / 60.0) * k_mib;
        }).fires == 0);
  LeakDetector big(LeakSpec{});
  // 8 GiB process growing 2 MiB/min: 60 MiB per 30 min is under 10%.
  CHECK(feed(big, 3600, [](std::int64_t t) {
          return (8192.0 + 2.0 * static_cast<double>(t) / 60.0) * k_mib;
        }).fires == 0);
}

TEST_CASE("leak: a restart clears at once and the growth must be seen again", "[detect]") {
  LeakDetector detector(LeakSpec{});
  const auto leaking = [](std::int64_t t) {
    return (200.0 + 3.0 * static_cast<double>(t % 10'000) / 60.0) * k_mib;
  };
  const Run before = feed(detector, 9990, leaking);
  CHECK(before.fires == 1);
  REQUIRE(detector.firing());
  // t = 10000 s: the process restarts at 200 MiB (from 700 MiB).
  CHECK(detector.update(leaking(10'000), 10'000'000) == Transition::clear);
  CHECK(detector.restarts() == 1);
  CHECK_FALSE(detector.evidence());
  const Run after = feed(detector, 3600, leaking, 10'010);
  CHECK(after.first_fire_s >= 10'000 + 20 * k_minute_s);
  CHECK(after.fires == 1);
}

TEST_CASE("leak clears when the growth stops for a window", "[detect]") {
  LeakDetector detector(LeakSpec{});
  const Run run = feed(detector, 4 * k_hour_s, [](std::int64_t t) {
    return (200.0 + 3.0 * static_cast<double>(std::min<std::int64_t>(t, 3600)) / 60.0) * k_mib;
  });
  CHECK(run.fires == 1);
  CHECK(run.clears == 1);
  CHECK_FALSE(detector.firing());
}

TEST_CASE("leak spec validation names the bad field", "[detect]") {
  CHECK(LeakSpec{}.validate());
  LeakSpec spec;
  spec.min_span = 1h;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() == "min_span 1h must not be longer than window 30m");
  spec = LeakSpec{};
  spec.min_rising_fraction = 1.5;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() == "min_rising_fraction 1.5 must be between 0 and 1");
  spec = LeakSpec{};
  spec.min_growth_bytes = -1;
  CHECK_FALSE(spec.validate());
  spec = LeakSpec{};
  spec.restart_drop_fraction = std::nan("");
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() ==
        "restart_drop_fraction nan must be between 0.01 and 1");
  CHECK_FALSE(LeakDetector::create(spec));
}
