// SPDX-License-Identifier: Apache-2.0
// learn: the Beta posterior's exact numbers, the error pattern and the streaming baseline.
#include <catch2/catch.hpp>

#include <cmath>

#include "coordinator/learn/baseline.hpp"
#include "coordinator/learn/error_pattern.hpp"
#include "coordinator/learn/number_key.hpp"
#include "coordinator/learn/posterior.hpp"

namespace learn = medic::coordinator::learn;

TEST_CASE("posterior: the prior seeds alpha = p*w and beta = (1-p)*w", "[learn]") {
  const auto p = learn::Posterior::from_prior(0.8, 5);
  CHECK(p.alpha == Approx(4.0));
  CHECK(p.beta == Approx(1.0));
  CHECK(p.mean() == Approx(0.8));
  CHECK(p.attempts == 0);
}

TEST_CASE("posterior: each outcome adds one to alpha or beta", "[learn]") {
  auto p = learn::Posterior::from_prior(0.8, 5); // Beta(4, 1)
  p.record(true, 3000, 100);
  CHECK(p.alpha == Approx(5.0));
  CHECK(p.beta == Approx(1.0));
  p.record(false, 0, 200);
  CHECK(p.alpha == Approx(5.0));
  CHECK(p.beta == Approx(2.0));
  CHECK(p.mean() == Approx(5.0 / 7.0));
  // alpha beta / ((a+b)^2 (a+b+1)) = 10 / (49 * 8)
  CHECK(p.variance() == Approx(10.0 / 392.0));
  CHECK(p.lower_bound(2) == Approx(5.0 / 7.0 - 2 * std::sqrt(10.0 / 392.0)));
  CHECK(p.attempts == 2);
  CHECK(p.successes == 1);
  CHECK(p.consecutive_failures == 1);
  CHECK(p.mean_time_to_recover_ms() == Approx(3000));
  CHECK(p.last_update_ms == 200);
  p.record(true, 1000, 300);
  CHECK(p.consecutive_failures == 0);
  CHECK(p.mean_time_to_recover_ms() == Approx(2000));
}

TEST_CASE("posterior: silly priors are clamped into a proper Beta", "[learn]") {
  const auto zero = learn::Posterior::from_prior(0, 0);
  CHECK(zero.alpha > 0);
  CHECK(zero.beta > 0);
  const auto nan = learn::Posterior::from_prior(std::nan(""), std::nan(""));
  CHECK(nan.mean() == Approx(0.5));
  CHECK(learn::Posterior::from_prior(2, 4).lower_bound(10) >= 0);
}

TEST_CASE("posterior: the lower bound is conservative until the evidence piles up", "[learn]") {
  auto p = learn::Posterior::from_prior(0.5, 2);
  for (int i = 0; i < 10; ++i) {
    p.record(true, 0, i);
  }
  CHECK(p.mean() > 0.9);
  CHECK(p.lower_bound(1.645) < 0.9); // ten successes over a 50 % prior: not yet convincing
  for (int i = 0; i < 20; ++i) {
    p.record(true, 0, i);
  }
  CHECK(p.lower_bound(1.645) > 0.9);
}

TEST_CASE("error pattern: occurrences, first/last seen, bounded actions tried", "[learn]") {
  learn::ErrorPattern pattern{.fingerprint = "fp"};
  pattern.seen("svc-down", 1000);
  pattern.seen("other-rule", 5000);
  CHECK(pattern.rule == "svc-down");
  CHECK(pattern.occurrences == 2);
  CHECK(pattern.first_seen_ms == 1000);
  CHECK(pattern.last_seen_ms == 5000);
  CHECK(pattern.success_rate() == 0);
  for (int i = 0; i < 12; ++i) {
    pattern.recovered("a" + std::to_string(i), i % 2 == 0, 6000);
  }
  pattern.recovered("a5", true, 7000);
  CHECK(pattern.actions_tried.size() == learn::ErrorPattern::k_max_actions);
  CHECK(pattern.actions_tried.back() == "a5");
  CHECK(pattern.actions_tried.front() == "a4");
  CHECK(pattern.recoveries == 13);
  CHECK(pattern.recovery_successes == 7);
  CHECK(pattern.success_rate() == Approx(7.0 / 13.0));
}

TEST_CASE("baseline: EWMA mean and variance, non-finite values ignored", "[learn]") {
  learn::Baseline b;
  CHECK(b.add(10, 0.5, 1));
  CHECK(b.mean == 10);
  CHECK(b.variance == 0);
  CHECK(b.add(20, 0.5, 2));
  // diff 10, step 5: mean 15, variance 0.5 * (0 + 10 * 5) = 25
  CHECK(b.mean == Approx(15));
  CHECK(b.variance == Approx(25));
  CHECK(b.stddev() == Approx(5));
  CHECK(b.z_score(25) == Approx(2));
  CHECK_FALSE(b.add(std::nan(""), 0.5, 3));
  CHECK(b.samples == 2);
  CHECK(b.last_update_ms == 2);
}

TEST_CASE("number keys: decimals parse strictly and print shortest", "[learn]") {
  CHECK(learn::parse_decimal("0.9") == 0.9);
  CHECK(learn::parse_decimal("1e-3") == 0.001);
  CHECK_FALSE(learn::parse_decimal("0.9x"));
  CHECK_FALSE(learn::parse_decimal(""));
  CHECK_FALSE(learn::parse_decimal("nan"));
  CHECK(learn::format_decimal(0.9) == "0.9");
  CHECK(learn::format_decimal(1.645) == "1.645");
}
