// SPDX-License-Identifier: Apache-2.0
// ThresholdDetector: a value above (or below) a level, with hysteresis and hold durations.
//
// Semantics, for compare = above (below is the mirror image, with < and >=):
//   - the fire condition is `value > fire_level`; the clear condition is `value <= clear_level`,
//     where clear_level defaults to fire_level (no hysteresis band);
//   - while clear, it fires on the first sample at which the fire condition has held on every
//     sample for at least `for_duration` (0: on the first sample where it holds). A sample at
//     or under fire_level breaks the hold, even one inside the hysteresis band;
//   - while firing, it clears on the first sample at which the clear condition has held for at
//     least `clear_for` (0: at once). Values between clear_level and fire_level keep it firing
//     and break a clear hold.
// Durations are measured between sample timestamps (see Latch in latch.hpp).
//
// Defaults: above, fire_level 0, clear_level = fire_level, for 0, clear_for 0.
// Figure: value(), the last accepted value.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "shared/detect/latch.hpp"
#include "shared/error.hpp"

namespace medic::detect {

struct ThresholdSpec {
  Compare compare = Compare::above;
  double fire_level = 0;
  std::optional<double> clear_level; // nullopt: fire_level
  std::chrono::milliseconds for_duration{0};
  std::chrono::milliseconds clear_for{0};

  // Levels finite; clear_level not past fire_level on the firing side ("clear_level 90 must
  // not be above fire_level 85 for an 'above' threshold"); durations not negative.
  [[nodiscard]] Result<void> validate() const;
  [[nodiscard]] double effective_clear_level() const noexcept {
    return clear_level.value_or(fire_level);
  }
};

class ThresholdDetector {
public:
  // The spec should have passed validate(); an invalid one gives meaningless alarms, never UB.
  explicit ThresholdDetector(const ThresholdSpec& spec) noexcept;
  [[nodiscard]] static Result<ThresholdDetector> create(const ThresholdSpec& spec);

  Transition update(double value, std::int64_t t_ms) noexcept;

  [[nodiscard]] bool firing() const noexcept { return m_latch.firing(); }
  [[nodiscard]] std::optional<double> value() const noexcept { return m_value; }
  [[nodiscard]] const ThresholdSpec& spec() const noexcept { return m_spec; }
  [[nodiscard]] const InputFilter& inputs() const noexcept { return m_filter; }

private:
  ThresholdSpec m_spec;
  InputFilter m_filter;
  Latch m_latch;
  std::optional<double> m_value;
};

} // namespace medic::detect
