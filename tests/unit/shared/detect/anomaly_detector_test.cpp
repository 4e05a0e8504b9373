// SPDX-License-Identifier: Apache-2.0
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "shared/detect/anomaly_detector.hpp"
#include "shared/detect/anomaly_model.hpp"
#include "tests/unit/shared/detect/series_noise.hpp"

using namespace std::chrono_literals;
using medic::detect::AnomalyDetector;
using medic::detect::AnomalySpec;
using medic::detect::Transition;
using medic::detect::test::Noise;

namespace {

constexpr std::int64_t k_minute_ms = 60'000;
constexpr std::int64_t k_day_minutes = std::int64_t{24} * 60;
constexpr double k_pi = 3.141592653589793;

struct Alarms {
  std::vector<std::int64_t> fires; // sample indexes
  std::vector<std::int64_t> clears;
  double max_score = 0;
};

// Feeds series(i) at one sample a minute for samples [from, to).
template <class Series>
Alarms feed(AnomalyDetector& detector, std::int64_t from, std::int64_t to, Series series) {
  Alarms alarms;
  for (std::int64_t i = from; i < to; ++i) {
    const Transition transition = detector.update(series(i), i * k_minute_ms);
    if (transition == Transition::fire) {
      alarms.fires.push_back(i);
    }
    if (transition == Transition::clear) {
      alarms.clears.push_back(i);
    }
    alarms.max_score = std::max(alarms.max_score, detector.score());
    REQUIRE(detector.score() >= 0);
    REQUIRE(detector.score() <= 1);
  }
  return alarms;
}

} // namespace

TEST_CASE("anomaly fires on the sample of a spike in a noisy series", "[detect]") {
  Noise noise(21);
  AnomalyDetector detector;
  const auto series = [&](std::int64_t) { return 50.0 + noise.normal(1.0); };
  const Alarms quiet = feed(detector, 0, 2 * k_day_minutes, series);
  CHECK(quiet.fires.empty());
  // A spike of 12 standard deviations.
  CHECK(detector.update(62, 2 * k_day_minutes * k_minute_ms) == Transition::fire);
  CHECK(detector.score() > 0.9);
  const Alarms after = feed(detector, 2 * k_day_minutes + 1, 3 * k_day_minutes, series);
  CHECK(after.fires.empty());
  REQUIRE(after.clears.size() == 1);
  CHECK(after.clears[0] <= 2 * k_day_minutes + 10); // clear_for 5 min after the spike
}

TEST_CASE("anomaly fires at a level shift, then adapts and stays quiet", "[detect]") {
  Noise noise(22);
  AnomalyDetector detector;
  const std::int64_t shift = k_day_minutes + 300;
  const Alarms alarms = feed(detector, 0, 4 * k_day_minutes, [&](std::int64_t i) {
    return (i < shift ? 50.0 : 70.0) + noise.normal(1.0);
  });
  REQUIRE(alarms.fires.size() == 1);
  CHECK(alarms.fires[0] == shift);
  REQUIRE(alarms.clears.size() == 1);
  CHECK(alarms.clears[0] <= shift + 15);
  CHECK_FALSE(detector.firing());
}

TEST_CASE("anomaly adapts to a level shift down as well", "[detect]") {
  Noise noise(23);
  AnomalyDetector detector;
  const std::int64_t shift = 2 * k_day_minutes;
  const Alarms alarms = feed(detector, 0, 4 * k_day_minutes, [&](std::int64_t i) {
    return (i < shift ? 400.0 : 250.0) + noise.normal(5.0);
  });
  REQUIRE(alarms.fires.size() == 1);
  CHECK(alarms.fires[0] == shift);
  REQUIRE(alarms.clears.size() == 1);
  CHECK(alarms.clears[0] <= shift + 15);
}

TEST_CASE("anomaly does not fire on a clean daily sine after a warm-up day", "[detect]") {
  AnomalyDetector detector;
  const auto sine = [](std::int64_t i) {
    return 50.0 + 20.0 * std::sin(2 * k_pi * static_cast<double>(i) / k_day_minutes);
  };
  feed(detector, 0, k_day_minutes, sine); // warm-up: the first day may alarm on new extremes
  const Alarms alarms = feed(detector, k_day_minutes, 8 * k_day_minutes, sine);
  CHECK(alarms.fires.empty());
  CHECK(alarms.max_score < AnomalySpec{}.fire_score);
}

TEST_CASE("anomaly does not fire on a noisy daily pattern after warm-up", "[detect]") {
  Noise noise(24);
  AnomalyDetector detector;
  const auto daily = [&](std::int64_t i) {
    return 30.0 + 25.0 * std::sin(2 * k_pi * static_cast<double>(i) / k_day_minutes) +
           noise.normal(2.0);
  };
  feed(detector, 0, 2 * k_day_minutes, daily);
  CHECK(feed(detector, 2 * k_day_minutes, 7 * k_day_minutes, daily).fires.empty());
}

TEST_CASE("anomaly is calibrated to a spiky series", "[detect]") {
  Noise noise(25);
  AnomalyDetector detector;
  // Bursts of 3 to 6 times the base value one sample in 50: normal for this series.
  const auto spiky = [&](std::int64_t) {
    const double base = 100.0 + noise.normal(5.0);
    return noise.uniform() < 0.02 ? base * (3.0 + 3.0 * noise.uniform()) : base;
  };
  feed(detector, 0, 2 * k_day_minutes, spiky);
  const Alarms alarms = feed(detector, 2 * k_day_minutes, 4 * k_day_minutes, spiky);
  CHECK(alarms.fires.size() <= 2);
  // A burst far past anything seen still alarms.
  CHECK(detector.update(3000, 4 * k_day_minutes * k_minute_ms) == Transition::fire);
}

TEST_CASE("anomaly scores 0 during warm-up and ignores bad input", "[detect]") {
  AnomalySpec spec;
  spec.warmup = 5;
  AnomalyDetector detector(spec);
  for (int i = 0; i < 5; ++i) {
    detector.update(i % 2 == 0 ? 1.0 : 1000.0, i * k_minute_ms);
    CHECK(detector.score() == 0);
  }
  CHECK(detector.update(std::numeric_limits<double>::quiet_NaN(), 10 * k_minute_ms) ==
        Transition::none);
  CHECK(detector.update(5, 1) == Transition::none); // backwards
  CHECK(detector.inputs().non_finite() == 1);
  CHECK(detector.inputs().out_of_order() == 1);
  // Values near the limits of double restart the model instead of poisoning it.
  detector.update(1e308, 11 * k_minute_ms);
  detector.update(-1e308, 12 * k_minute_ms);
  detector.update(1e308, 13 * k_minute_ms);
  CHECK(std::isfinite(detector.score()));
  for (std::int64_t i = 14; i < 200; ++i) {
    detector.update(1.0, i * k_minute_ms);
  }
  CHECK(std::isfinite(detector.score()));
  CHECK(detector.score() < 0.3);
}

TEST_CASE("anomaly scores a burst on its first sample, not on every sample", "[detect]") {
  Noise noise(26);
  AnomalyDetector detector;
  const auto quiet = [&](std::int64_t) { return 50.0 + noise.normal(1.0); };
  feed(detector, 0, 2 * k_day_minutes, quiet);
  int scored = 0;
  double first = 0;
  for (std::int64_t i = 2 * k_day_minutes; i < 2 * k_day_minutes + 30; ++i) {
    detector.update(65.0 + noise.normal(1.0), i * k_minute_ms);
    first = i == 2 * k_day_minutes ? detector.score() : first;
    scored += detector.score() > 0 ? 1 : 0;
  }
  CHECK(first > 0.9);
  CHECK(scored <= 2); // the onset, and at most once more if it grows
}

TEST_CASE("anomaly sees a sustained shift of a few standard deviations", "[detect]") {
  Noise noise(27);
  AnomalyDetector detector;
  const std::int64_t shift = 2 * k_day_minutes;
  // +2.5 standard deviations: few single samples stand out, a run of them together does.
  const Alarms alarms = feed(detector, 0, shift + 60, [&](std::int64_t i) {
    return (i < shift ? 50.0 : 52.5) + noise.normal(1.0);
  });
  REQUIRE(alarms.fires.size() == 1);
  CHECK(alarms.fires[0] >= shift);
  CHECK(alarms.fires[0] <= shift + 40);
}

TEST_CASE("anomaly is deterministic and its state is small", "[detect]") {
  AnomalyDetector a;
  AnomalyDetector b;
  Noise noise_a(28);
  Noise noise_b(28);
  for (std::int64_t i = 0; i < 5000; ++i) {
    a.update(100 + noise_a.normal(10) + (i % 700 == 0 ? 80 : 0), i * k_minute_ms);
    b.update(100 + noise_b.normal(10) + (i % 700 == 0 ? 80 : 0), i * k_minute_ms);
    REQUIRE(a.score() == b.score());
  }
  CHECK(sizeof(AnomalyDetector) < 4096);
}

TEST_CASE("anomaly parts: calibration, envelope and news-once", "[detect]") {
  namespace anomaly = medic::detect::anomaly;
  anomaly::TailCalibration tail;
  for (int i = 0; i < 1000; ++i) {
    (void)tail.probability(1.0);
  }
  CHECK(tail.probability(1.0) > 0.3);    // what this series always does
  CHECK(tail.probability(100.0) < 1e-4); // far beyond anything seen: the Pareto prior

  anomaly::Envelope envelope;
  envelope.reset(0);
  CHECK(envelope.probability(10, 2, 0) < 1); // a new extreme
  CHECK(envelope.probability(5, 3, 0) == 1); // inside [0, 10]
  // Beyond by one width after 1000 samples: 2 / 1000 * 10^-7.
  const double p = envelope.probability(20, 1000, 0);
  CHECK(p == Approx(2e-10).epsilon(1e-6));

  anomaly::Suppression news;
  CHECK(news.filter(0.5) == 0.5);
  CHECK(news.filter(0.55) == 0);  // not 0.1 above what was just seen
  CHECK(news.filter(0.7) == 0.7); // it grew
  for (int i = 0; i < 2000; ++i) {
    CHECK(news.filter(0) == 0);
  }
  CHECK(news.filter(0.5) == 0.5); // the memory has decayed
}

TEST_CASE("anomaly spec validation names the bad field", "[detect]") {
  CHECK(AnomalySpec{}.validate());
  AnomalySpec spec;
  spec.fire_score = 1.5;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() == "fire_score 1.5 must be between 0 and 1");
  spec = AnomalySpec{};
  spec.clear_score = 0.8;
  REQUIRE_FALSE(spec.validate());
  CHECK(spec.validate().error().message() ==
        "clear_score 0.8 must be between 0 and fire_score 0.7");
  spec = AnomalySpec{};
  spec.clear_for = -1ms;
  CHECK_FALSE(AnomalyDetector::create(spec));
}

TEST_CASE("anomaly parts: a rest period after a clear alarm", "[detect]") {
  namespace anomaly = medic::detect::anomaly;
  anomaly::RestPeriod rest;
  CHECK(rest.filter(0.4) == 0.4);   // not a clear alarm: no rest
  CHECK(rest.filter(0.45) == 0.45); // still none
  CHECK(rest.filter(0.6) == 0.6);   // a clear alarm starts the rest
  CHECK(rest.filter(0.85) == 0);    // an aftershock, not 0.3 above the alarm
  CHECK(rest.filter(0.95) == 0.95); // an escalation passes and restarts the rest
  for (int i = 0; i < 150; ++i) {
    CHECK(rest.filter(0.9) == 0);
  }
  CHECK(rest.filter(0.6) == 0.6); // the rest is over
}
