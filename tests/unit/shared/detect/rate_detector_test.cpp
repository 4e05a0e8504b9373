// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "shared/detect/rate_detector.hpp"

using namespace std::chrono_literals;
using medic::detect::Compare;
using medic::detect::RateDetector;
using medic::detect::RateSpec;
using medic::detect::SeriesKind;
using medic::detect::Transition;

namespace {

// Flat at 0 until t=100 s, then rising 2 units/s until t=200 s, then flat.
double ramp(std::int64_t t_s) {
  return 2.0 * static_cast<double>(std::clamp<std::int64_t>(t_s - 100, 0, 100));
}

RateSpec ramp_spec() {
  RateSpec spec;
  spec.fire_level = 0.9;
  spec.clear_level = 0.5;
  spec.window = 60s;
  return spec;
}

} // namespace

TEST_CASE("rate fires on the exact sample the windowed rate passes the level", "[detect]") {
  RateDetector detector(ramp_spec());
  std::int64_t fired_at = -1;
  std::int64_t cleared_at = -1;
  for (std::int64_t t = 0; t <= 400; t += 10) {
    const Transition transition = detector.update(ramp(t), t * 1000);
    if (transition == Transition::fire) {
      fired_at = t;
    }
    if (transition == Transition::clear) {
      cleared_at = t;
    }
    if (t == 120) {
      CHECK(*detector.rate() == Approx(40.0 / 60)); // below 0.9: not yet
    }
    if (t == 240) {
      CHECK(*detector.rate() == Approx(40.0 / 60)); // in the band: still firing
      CHECK(detector.firing());
    }
  }
  CHECK(fired_at == 130);   // (60 - 0) / 60 s = 1.0
  CHECK(cleared_at == 250); // (200 - 180) / 60 s = 0.33 <= 0.5
}

TEST_CASE("rate exists from the second sample, over the span so far", "[detect]") {
  RateDetector detector(ramp_spec());
  detector.update(10, 0);
  CHECK_FALSE(detector.rate());
  detector.update(10, 0); // same millisecond: no rate
  CHECK_FALSE(detector.rate());
  detector.update(16, 3000);
  REQUIRE(detector.rate());
  CHECK(*detector.rate() == Approx(2.0));
}

TEST_CASE("rate 'for' is respected", "[detect]") {
  RateSpec spec = ramp_spec();
  spec.for_duration = 30s;
  SECTION("held long enough fires") {
    RateDetector detector(spec);
    std::int64_t fired_at = -1;
    for (std::int64_t t = 0; t <= 400; t += 10) {
      if (detector.update(ramp(t), t * 1000) == Transition::fire) {
        fired_at = t;
      }
    }
    CHECK(fired_at == 160); // above 0.9 from t=130 s
  }
  SECTION("the rate falls back one sample before the duration: no fire") {
    RateDetector detector(spec);
    bool fired = false;
    // Rising 2/s from t=100 s to t=150 s, then back to 0: rate > 0.9 from 130 s to 150 s.
    for (std::int64_t t = 0; t <= 400; t += 10) {
      const double value = t > 100 && t <= 150 ? 2.0 * static_cast<double>(t - 100) : 0.0;
      fired = fired || detector.update(value, t * 1000) == Transition::fire;
      if (t == 150) {
        CHECK(*detector.rate() > 0.9); // held 20 s of the 30 s needed
      }
      if (t == 160) {
        CHECK(*detector.rate() < 0.9);
      }
    }
    CHECK_FALSE(fired);
  }
}

TEST_CASE("counter rate treats a decrease as a reset, not a negative rate", "[detect]") {
  RateSpec spec;
  spec.compare = Compare::below;
  spec.fire_level = 5; // fires when the counter slows below 5/s
  spec.window = 60s;
  spec.kind = SeriesKind::counter;
  RateDetector detector(spec);
  double counter = 1000;
  for (std::int64_t t = 0; t <= 300; t += 10) {
    if (t == 150) {
      counter = 0; // restart: the counter starts again from 0 and counts on
    }
    CHECK(detector.update(counter, t * 1000) == Transition::none);
    if (t > 0) {
      CHECK(*detector.rate() >= 5);
    }
    counter += 100; // 10 per second
  }
  CHECK(detector.resets() == 1);
  CHECK(*detector.rate() == Approx(10.0));

  spec.kind = SeriesKind::gauge;
  RateDetector gauge(spec);
  gauge.update(1000, 0);
  CHECK(gauge.update(0, 10'000) == Transition::fire);
  CHECK(*gauge.rate() == Approx(-100.0));
}

TEST_CASE("rate downsamples into its ring and keeps the window covered", "[detect]") {
  RateSpec spec;
  spec.window = 60s;
  spec.capacity = 8; // one kept point per 10 s
  spec.fire_level = 100;
  RateDetector detector(spec);
  for (std::int64_t t = 0; t <= 600; ++t) {
    detector.update(3.0 * static_cast<double>(t), t * 1000);
  }
  CHECK(*detector.rate() == Approx(3.0));
}

TEST_CASE("rate ignores non-finite values and backwards time", "[detect]") {
  RateDetector detector(ramp_spec());
  detector.update(0, 10'000);
  detector.update(std::numeric_limits<double>::infinity(), 11'000);
  detector.update(50, 5'000);
  detector.update(10, 20'000);
  CHECK(*detector.rate() == Approx(1.0));
  CHECK(detector.inputs().non_finite() == 1);
  CHECK(detector.inputs().out_of_order() == 1);
}

TEST_CASE("rate spec validation names the bad field", "[detect]") {
  CHECK(ramp_spec().validate());
  RateSpec spec = ramp_spec();
  spec.clear_level = 2;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() ==
        "clear_level 2 must not be above fire_level 0.9 for an 'above' rate");
  spec = ramp_spec();
  spec.window = 0s;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() == "window 0ms must be positive");
  spec = ramp_spec();
  spec.capacity = 2;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() == "capacity 2 must be between 3 and 4096");
  CHECK_FALSE(RateDetector::create(spec));
}
