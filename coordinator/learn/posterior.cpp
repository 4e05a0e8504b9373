// SPDX-License-Identifier: Apache-2.0
#include "coordinator/learn/posterior.hpp"

#include <algorithm>
#include <cmath>

namespace medic::coordinator::learn {

namespace {

constexpr double k_min_prior = 0.001;
constexpr double k_max_prior = 0.999;
constexpr double k_min_weight = 0.01;

} // namespace

Posterior Posterior::from_prior(double prior_success, double prior_weight) noexcept {
  // NaN fails both comparisons of clamp's bounds check in the wrong way: replace it first.
  const double p =
      std::isfinite(prior_success) ? std::clamp(prior_success, k_min_prior, k_max_prior) : 0.5;
  const double w = std::isfinite(prior_weight) ? std::max(prior_weight, k_min_weight) : 2.0;
  Posterior posterior;
  posterior.alpha = p * w;
  posterior.beta = (1 - p) * w;
  return posterior;
}

void Posterior::record(bool success, std::int64_t time_to_recover_ms,
                       std::int64_t now_ms) noexcept {
  ++attempts;
  if (success) {
    alpha += 1;
    ++successes;
    consecutive_failures = 0;
    recover_ms_total += static_cast<double>(std::max<std::int64_t>(time_to_recover_ms, 0));
  } else {
    beta += 1;
    ++consecutive_failures;
  }
  last_update_ms = now_ms;
}

double Posterior::mean() const noexcept {
  return alpha / (alpha + beta);
}

double Posterior::variance() const noexcept {
  const double sum = alpha + beta;
  return alpha * beta / (sum * sum * (sum + 1));
}

double Posterior::lower_bound(double k) const noexcept {
  return std::clamp(mean() - k * std::sqrt(variance()), 0.0, 1.0);
}

double Posterior::mean_time_to_recover_ms() const noexcept {
  return successes == 0 ? 0.0 : recover_ms_total / static_cast<double>(successes);
}

} // namespace medic::coordinator::learn
