// SPDX-License-Identifier: Apache-2.0
#include "coordinator/learn/baseline.hpp"

#include <cmath>

namespace medic::coordinator::learn {

bool Baseline::add(double value, double weight, std::int64_t now_ms) noexcept {
  if (!std::isfinite(value)) {
    return false;
  }
  if (samples == 0) {
    mean = value;
    variance = 0;
  } else {
    // West's incremental EWMA: the variance update uses the deviation from the old mean.
    const double diff = value - mean;
    const double step = weight * diff;
    mean += step;
    variance = (1 - weight) * (variance + diff * step);
  }
  ++samples;
  last_update_ms = now_ms;
  return true;
}

double Baseline::stddev() const noexcept {
  return std::sqrt(variance);
}

double Baseline::z_score(double value) const noexcept {
  const double sd = stddev();
  return sd > 0 ? (value - mean) / sd : 0.0;
}

} // namespace medic::coordinator::learn
