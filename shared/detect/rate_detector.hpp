// SPDX-License-Identifier: Apache-2.0
// RateDetector: the rate of change per second of a series over a window, against a level.
//
// Rate: (value now - reference value) / (seconds between them), where the reference is the
// newest kept point at least `window` old; until the series is that old, the oldest point (so a
// rate exists from the second sample on, over a shorter span). Points are kept in a ring of
// `capacity` entries allocated at construction; a sample is kept only when it is at least
// window / (capacity - 2) after the last kept one, so the ring always covers the window and the
// reference may be up to that step older than `window`. A sample at the same millisecond as the
// reference gives no rate (the previous rate stays).
//
// kind = counter: the series is a monotonic counter. A decrease is a reset (process restart,
// wrap), not a negative rate: the value after the reset counts as the increase since the reset,
// as Prometheus' rate() does. kind = gauge: decreases are negative rates.
//
// Firing: as ThresholdDetector, applied to the rate: above fires when rate > fire_level and
// clears when rate <= clear_level (default fire_level), with for_duration and clear_for holds;
// below is the mirror image. No rate yet: neither condition holds.
//
// Defaults: above, fire_level 0, window 1m, capacity 32, gauge, for 0, clear_for 0.
// Figure: rate(), per second, nullopt until the second sample.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "shared/detect/fixed_ring.hpp"
#include "shared/detect/latch.hpp"
#include "shared/error.hpp"

namespace medic::detect {

enum class SeriesKind : std::uint8_t { gauge, counter };

struct RateSpec {
  Compare compare = Compare::above;
  double fire_level = 0; // units per second
  std::optional<double> clear_level;
  std::chrono::milliseconds window{60'000};
  std::chrono::milliseconds for_duration{0};
  std::chrono::milliseconds clear_for{0};
  SeriesKind kind = SeriesKind::gauge;
  std::size_t capacity = 32; // 3..4096 kept points

  [[nodiscard]] Result<void> validate() const;
  [[nodiscard]] double effective_clear_level() const noexcept {
    return clear_level.value_or(fire_level);
  }
};

class RateDetector {
public:
  // Allocates the ring. The spec should have passed validate(); an invalid one gives
  // meaningless alarms, never UB.
  explicit RateDetector(const RateSpec& spec);
  [[nodiscard]] static Result<RateDetector> create(const RateSpec& spec);

  Transition update(double value, std::int64_t t_ms) noexcept;

  [[nodiscard]] bool firing() const noexcept { return m_latch.firing(); }
  [[nodiscard]] std::optional<double> rate() const noexcept { return m_rate; }
  // Counter resets seen (kind = counter only).
  [[nodiscard]] std::uint64_t resets() const noexcept { return m_resets; }
  [[nodiscard]] const RateSpec& spec() const noexcept { return m_spec; }
  [[nodiscard]] const InputFilter& inputs() const noexcept { return m_filter; }

private:
  struct Point {
    std::int64_t t_ms = 0;
    double value = 0; // for counters, the reset-adjusted value
  };

  [[nodiscard]] double adjusted(double value) noexcept;
  void compute_rate(double value, std::int64_t t_ms) noexcept;

  RateSpec m_spec;
  InputFilter m_filter;
  Latch m_latch;
  FixedRing<Point> m_points;
  std::int64_t m_step_ms;
  std::optional<double> m_rate;
  std::optional<double> m_last_raw; // counters: the previous raw value, to see resets
  double m_offset = 0;              // counters: what resets took away
  std::uint64_t m_resets = 0;
};

} // namespace medic::detect
