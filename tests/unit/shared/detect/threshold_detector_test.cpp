// SPDX-License-Identifier: Apache-2.0
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "shared/detect/threshold_detector.hpp"

using namespace std::chrono_literals;
using medic::detect::Compare;
using medic::detect::ThresholdDetector;
using medic::detect::ThresholdSpec;
using medic::detect::Transition;

namespace {

constexpr std::int64_t k_step_ms = 10'000;

ThresholdSpec above(double fire, std::optional<double> clear = std::nullopt) {
  ThresholdSpec spec;
  spec.fire_level = fire;
  spec.clear_level = clear;
  return spec;
}

// Feeds values one per 10 s from t = 0 and returns the index of the first sample that gave
// `wanted`, or -1.
int first(ThresholdDetector& detector, std::initializer_list<double> values, Transition wanted,
          std::int64_t start_ms = 0) {
  int index = 0;
  int found = -1;
  for (const double value : values) {
    const Transition got = detector.update(value, start_ms + index * k_step_ms);
    if (got == wanted && found < 0) {
      found = index;
    }
    ++index;
  }
  return found;
}

} // namespace

TEST_CASE("threshold fires on the first sample strictly above the level", "[detect]") {
  ThresholdDetector detector(above(85));
  CHECK(first(detector, {80, 84, 85, 86, 90}, Transition::fire) == 3);
  CHECK(detector.firing());
  CHECK(detector.value() == 90);
}

TEST_CASE("threshold clears with hysteresis at the clear level", "[detect]") {
  ThresholdDetector detector(above(85, 80));
  REQUIRE(detector.update(90, 0) == Transition::fire);
  CHECK(detector.update(84, 10'000) == Transition::none); // in the band: still firing
  CHECK(detector.update(80.5, 20'000) == Transition::none);
  CHECK(detector.firing());
  CHECK(detector.update(86, 30'000) == Transition::none);
  CHECK(detector.update(80, 40'000) == Transition::clear); // <= clear level
  CHECK_FALSE(detector.firing());
  CHECK(detector.update(84, 50'000) == Transition::none); // band while clear: no fire
  CHECK(detector.update(85.1, 60'000) == Transition::fire);
}

TEST_CASE("threshold without hysteresis clears at the fire level itself", "[detect]") {
  ThresholdDetector detector(above(85));
  REQUIRE(detector.update(86, 0) == Transition::fire);
  CHECK(detector.update(85, 1) == Transition::clear);
}

TEST_CASE("threshold 'for' needs the condition on every sample for the whole duration",
          "[detect]") {
  ThresholdSpec spec = above(85);
  spec.for_duration = 30s;
  SECTION("held for exactly the duration fires") {
    ThresholdDetector detector(spec);
    // Above from t=10s; t=40s is 30 s later.
    CHECK(first(detector, {80, 90, 90, 90, 90, 90}, Transition::fire) == 4);
  }
  SECTION("broken one sample before the duration does not fire") {
    ThresholdDetector detector(spec);
    CHECK(first(detector, {80, 90, 90, 90, 85, 90, 90, 90}, Transition::fire) == -1);
    CHECK_FALSE(detector.firing());
    // The hold restarted at index 5 (t=50s): fires at t=80s.
    CHECK(detector.update(90, 80'000) == Transition::fire);
  }
  SECTION("a value in the hysteresis band breaks the hold") {
    spec.clear_level = 80;
    ThresholdDetector detector(spec);
    CHECK(first(detector, {90, 90, 90, 82, 90, 90, 90}, Transition::fire) == -1);
  }
}

TEST_CASE("threshold clear_for needs the clear condition for the whole duration", "[detect]") {
  ThresholdSpec spec = above(85, 80);
  spec.clear_for = 20s;
  ThresholdDetector detector(spec);
  REQUIRE(detector.update(90, 0) == Transition::fire);
  CHECK(detector.update(70, 10'000) == Transition::none); // hold starts
  CHECK(detector.update(70, 20'000) == Transition::none); // 10 s
  CHECK(detector.update(82, 30'000) == Transition::none); // band: hold broken
  CHECK(detector.update(70, 40'000) == Transition::none);
  CHECK(detector.update(70, 50'000) == Transition::none);
  CHECK(detector.update(70, 60'000) == Transition::clear); // 20 s since t=40s
}

TEST_CASE("threshold below is the mirror image", "[detect]") {
  ThresholdSpec spec;
  spec.compare = Compare::below;
  spec.fire_level = 10;
  spec.clear_level = 20;
  ThresholdDetector detector(spec);
  CHECK(first(detector, {15, 10, 9.5, 12, 19.9, 20, 5}, Transition::fire) == 2);
  ThresholdDetector again(spec);
  CHECK(first(again, {15, 10, 9.5, 12, 19.9, 20, 5}, Transition::clear) == 5);
}

TEST_CASE("threshold ignores and counts NaN, infinity and backwards timestamps", "[detect]") {
  ThresholdSpec spec = above(85);
  spec.for_duration = 20s;
  ThresholdDetector detector(spec);
  CHECK(detector.update(90, 10'000) == Transition::none);
  CHECK(detector.update(std::numeric_limits<double>::quiet_NaN(), 20'000) == Transition::none);
  CHECK(detector.update(-std::numeric_limits<double>::infinity(), 25'000) == Transition::none);
  CHECK(detector.update(0, 5'000) == Transition::none); // backwards: ignored, hold not broken
  CHECK(detector.update(90, 30'000) == Transition::fire);
  CHECK(detector.update(90, 30'000) == Transition::none); // same millisecond is accepted
  CHECK(detector.inputs().non_finite() == 2);
  CHECK(detector.inputs().out_of_order() == 1);
  CHECK(detector.value() == 90);
}

TEST_CASE("threshold spec validation names the bad field", "[detect]") {
  CHECK(above(85).validate());
  CHECK(above(85, 80).validate());
  CHECK(above(85, 85).validate());

  const auto inverted = above(85, 90).validate();
  REQUIRE_FALSE(inverted);
  CHECK(inverted.error().message() ==
        "clear_level 90 must not be above fire_level 85 for an 'above' threshold");

  ThresholdSpec below;
  below.compare = Compare::below;
  below.fire_level = 10;
  below.clear_level = 5;
  const auto inverted_below = below.validate();
  REQUIRE_FALSE(inverted_below);
  CHECK(inverted_below.error().message() ==
        "clear_level 5 must not be below fire_level 10 for a 'below' threshold");

  ThresholdSpec negative = above(1);
  negative.for_duration = -1s;
  REQUIRE_FALSE(negative.validate());
  CHECK(negative.validate().error().message() == "for -1s must not be negative");

  const auto nan = above(std::nan("")).validate();
  REQUIRE_FALSE(nan);
  CHECK(nan.error().message() == "fire_level must be a finite number, not nan");

  CHECK_FALSE(ThresholdDetector::create(above(85, 90)));
  CHECK(ThresholdDetector::create(above(85, 80)));
}
