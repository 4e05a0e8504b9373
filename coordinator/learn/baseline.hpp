// SPDX-License-Identifier: Apache-2.0
// A streaming baseline of one metric on one host: exponentially weighted mean and variance,
// O(1) per sample and a few bytes of state. Value type.
#pragma once

#include <cstdint>

namespace medic::coordinator::learn {

struct Baseline {
  double mean = 0;
  double variance = 0;
  std::uint64_t samples = 0;
  std::int64_t last_update_ms = 0;

  // `weight` in (0, 1]: the share of the new value (2 / (N + 1) for a span of N samples). The
  // first sample sets the mean with variance 0. Non-finite values are ignored (returns false).
  bool add(double value, double weight, std::int64_t now_ms) noexcept;
  [[nodiscard]] double stddev() const noexcept;
  // (value - mean) / stddev; 0 while the stddev is 0.
  [[nodiscard]] double z_score(double value) const noexcept;

  friend bool operator==(const Baseline&, const Baseline&) = default;
};

} // namespace medic::coordinator::learn
