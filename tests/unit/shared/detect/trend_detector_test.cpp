// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "shared/detect/trend_detector.hpp"
#include "tests/unit/shared/detect/series_noise.hpp"

using namespace std::chrono_literals;
using medic::detect::Approach;
using medic::detect::Transition;
using medic::detect::TrendDetector;
using medic::detect::TrendSpec;
using medic::detect::test::Noise;

namespace {

constexpr std::int64_t k_hour_s = 3600;

// A disk growing 1% per 10 minutes from 50%: 100% at t = 30000 s.
double disk(std::int64_t t_s) {
  return 50.0 + static_cast<double>(t_s) / 600.0;
}

} // namespace

TEST_CASE("trend fires on the exact sample the prediction drops below the horizon", "[detect]") {
  TrendSpec spec;
  spec.horizon = 4h + 30s; // below 14430 s from t = 15600 s on (30000 - t)
  TrendDetector detector(spec);
  std::int64_t fired_at = -1;
  for (std::int64_t t = 0; t <= 20'000; t += 60) {
    if (detector.update(disk(t), t * 1000) == Transition::fire) {
      fired_at = t;
    }
    if (t == 15'540) {
      REQUIRE(detector.predicted_seconds());
      CHECK(*detector.predicted_seconds() == Approx(30'000.0 - 15'540));
    }
  }
  CHECK(fired_at == 15'600);
  CHECK(*detector.slope_per_second() == Approx(1.0 / 600));
  CHECK(*detector.level() == Approx(disk(19'980))); // the last sample
}

TEST_CASE("trend predicts within 10% on a noisy linear series", "[detect]") {
  Noise noise(7);
  TrendDetector detector(TrendSpec{});
  // 40% growing 1% per 10 min, noise sd 0.5%, a sample a minute, three hours.
  for (std::int64_t t = 0; t <= 3 * k_hour_s; t += 60) {
    const double value = 40.0 + static_cast<double>(t) / 600.0 + noise.normal(0.5);
    detector.update(value, t * 1000);
  }
  const double truth = (100.0 - (40.0 + 3.0 * k_hour_s / 600.0)) * 600.0; // 25200 s
  REQUIRE(detector.predicted_seconds());
  CHECK(*detector.predicted_seconds() == Approx(truth).epsilon(0.10));
  CHECK_FALSE(detector.firing()); // 7 h away, horizon 4 h
}

TEST_CASE("trend ignores spikes that a least-squares fit would follow", "[detect]") {
  Noise noise(11);
  TrendDetector detector(TrendSpec{});
  for (std::int64_t t = 0; t <= 3 * k_hour_s; t += 60) {
    double value = 40.0 + static_cast<double>(t) / 600.0 + noise.normal(0.2);
    if (t >= 9000 && t < 9600) {
      value = 95; // a temporary file for ten minutes
    }
    detector.update(value, t * 1000);
  }
  REQUIRE(detector.predicted_seconds());
  CHECK(*detector.predicted_seconds() == Approx(25'200.0).epsilon(0.10));
  CHECK_FALSE(detector.firing());
}

TEST_CASE("trend needs a credible fit before predicting", "[detect]") {
  TrendDetector detector(TrendSpec{}); // an hour and 6 buckets of 11.25 min
  for (std::int64_t t = 0; t < 3600; t += 60) {
    detector.update(disk(t), t * 1000);
    CHECK_FALSE(detector.predicted_seconds());
  }
  detector.update(disk(3600), 3'600'000);
  CHECK(detector.predicted_seconds());
}

TEST_CASE("trend clears with hysteresis once the growth stops", "[detect]") {
  TrendDetector detector(TrendSpec{});
  const double horizon_s = 4 * k_hour_s;
  bool fired = false;
  bool held_in_band = false;
  std::int64_t cleared_at = -1;
  for (std::int64_t t = 0; t <= 24 * k_hour_s && cleared_at < 0; t += 60) {
    // Grows until t = 16000 s (predicted 14000 s < 4 h), then stays flat at 76.7%.
    const Transition transition =
        detector.update(disk(std::min<std::int64_t>(t, 16'000)), t * 1000);
    fired = fired || transition == Transition::fire;
    const auto predicted = detector.predicted_seconds();
    if (detector.firing() && predicted && *predicted > horizon_s) {
      held_in_band = true;
      CHECK(*predicted <= horizon_s * 1.5);
    }
    if (transition == Transition::clear) {
      cleared_at = t;
      CHECK((!predicted || *predicted > horizon_s * 1.5));
    }
  }
  CHECK(fired);
  CHECK(held_in_band);
  CHECK(cleared_at > 16'000);
}

TEST_CASE("trend clears soon after a cleanup drops the value", "[detect]") {
  TrendDetector detector(TrendSpec{});
  bool fired = false;
  std::int64_t cleared_at = -1;
  for (std::int64_t t = 0; t <= 30'000 && cleared_at < 0; t += 60) {
    const double value = t < 20'000 ? disk(t) : 30.0;
    const Transition transition = detector.update(value, t * 1000);
    fired = fired || transition == Transition::fire;
    if (transition == Transition::clear) {
      cleared_at = t;
    }
  }
  CHECK(fired);
  CHECK(cleared_at > 20'000);
  CHECK(cleared_at < 20'000 + 3600); // within a few buckets of 11.25 min
}

TEST_CASE("trend falling toward a lower limit", "[detect]") {
  TrendSpec spec;
  spec.limit = 0;
  spec.approach = Approach::falling;
  spec.horizon = 30min;
  spec.window = 1h;
  spec.min_span = 10min;
  TrendDetector detector(spec);
  std::int64_t fired_at = -1;
  // 4 GiB free, losing 1 MiB/s: empty at t = 4096 s; 30 min before is t = 2296 s.
  for (std::int64_t t = 0; t <= 4000; t += 10) {
    const double free_mib = 4096.0 - static_cast<double>(t);
    if (detector.update(free_mib, t * 1000) == Transition::fire && fired_at < 0) {
      fired_at = t;
    }
  }
  CHECK(fired_at == 2300);
  CHECK(*detector.slope_per_second() == Approx(-1.0));
}

TEST_CASE("trend past the limit predicts zero and a flat series predicts nothing", "[detect]") {
  TrendSpec spec;
  spec.min_span = 10min;
  TrendDetector flat(spec);
  TrendDetector full(spec);
  for (std::int64_t t = 0; t <= 4 * k_hour_s; t += 60) {
    flat.update(60, t * 1000);
    full.update(100.5, t * 1000);
  }
  CHECK_FALSE(flat.predicted_seconds());
  CHECK_FALSE(flat.firing());
  REQUIRE(full.predicted_seconds());
  CHECK(*full.predicted_seconds() == 0);
  CHECK(full.firing());
}

TEST_CASE("trend spec validation names the bad field", "[detect]") {
  CHECK(TrendSpec{}.validate());
  TrendSpec spec;
  spec.min_span = 7h;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() == "min_span 7h must not be longer than window 6h");
  spec = TrendSpec{};
  spec.min_points = 40;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() == "min_points 40 must be between 3 and 32");
  spec = TrendSpec{};
  spec.clear_factor = 0.5;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() == "clear_factor 0.5 must be between 1 and 1000");
  spec = TrendSpec{};
  spec.horizon = 0s;
  CHECK_FALSE(spec.validate());
  spec = TrendSpec{};
  spec.capacity = 1000;
  CHECK_FALSE(TrendDetector::create(spec));
}
