// SPDX-License-Identifier: Apache-2.0
// What medic has learned about one action for one diagnosis: a Beta(alpha, beta) belief in its
// success, seeded from the action's declared success rate and updated by every verified
// outcome, with the plain counts beside it. A value type, persisted by the lead's storage.
#pragma once

#include <cstdint>

namespace medic::coordinator::learn {

struct Posterior {
  double alpha = 1; // prior pseudo-successes + successes
  double beta = 1;  // prior pseudo-failures + failures
  std::uint64_t attempts = 0;
  std::uint64_t successes = 0;
  std::uint32_t consecutive_failures = 0; // since the last success (earned autonomy demotes)
  double recover_ms_total = 0;            // sum of the successes' times to recover
  std::int64_t last_update_ms = 0;

  // alpha = p * w, beta = (1 - p) * w, with p clamped into [0.001, 0.999] and w at least 0.01
  // so that the belief is a proper Beta whatever a rule declares.
  [[nodiscard]] static Posterior from_prior(double prior_success, double prior_weight) noexcept;

  // One verified outcome. `time_to_recover_ms` (incident opened, or action started, to verified
  // healthy: the caller's choice, used consistently) counts only for successes; negative is 0.
  void record(bool success, std::int64_t time_to_recover_ms, std::int64_t now_ms) noexcept;

  [[nodiscard]] double mean() const noexcept;     // alpha / (alpha + beta)
  [[nodiscard]] double variance() const noexcept; // alpha beta / ((a + b)^2 (a + b + 1))
  // mean - k * sd, clamped into [0, 1]: a conservative success rate (k = 1.645 is roughly a
  // one-sided 95 % bound). Earned autonomy compares this, never the mean.
  [[nodiscard]] double lower_bound(double k) const noexcept;
  // 0 when there was no success yet.
  [[nodiscard]] double mean_time_to_recover_ms() const noexcept;

  friend bool operator==(const Posterior&, const Posterior&) = default;
};

} // namespace medic::coordinator::learn
