// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/threshold_detector.hpp"

#include <string>

#include "shared/detect/spec_check.hpp"

namespace medic::detect {

Result<void> ThresholdSpec::validate() const {
  namespace check = spec_check;
  if (auto ok = check::finite("fire_level", fire_level); !ok) {
    return ok;
  }
  const double clear = effective_clear_level();
  if (auto ok = check::finite("clear_level", clear); !ok) {
    return ok;
  }
  if (compare == Compare::above && clear > fire_level) {
    return check::invalid("clear_level " + check::number(clear) + " must not be above fire_level " +
                          check::number(fire_level) + " for an 'above' threshold");
  }
  if (compare == Compare::below && clear < fire_level) {
    return check::invalid("clear_level " + check::number(clear) + " must not be below fire_level " +
                          check::number(fire_level) + " for a 'below' threshold");
  }
  if (auto ok = check::not_negative("for", for_duration); !ok) {
    return ok;
  }
  return check::not_negative("clear_for", clear_for);
}

ThresholdDetector::ThresholdDetector(const ThresholdSpec& spec) noexcept
    : m_spec(spec), m_latch(spec.for_duration, spec.clear_for) {}

Result<ThresholdDetector> ThresholdDetector::create(const ThresholdSpec& spec) {
  if (auto ok = spec.validate(); !ok) {
    return fail(std::move(ok.error()));
  }
  return ThresholdDetector(spec);
}

Transition ThresholdDetector::update(double value, std::int64_t t_ms) noexcept {
  if (!m_filter.accept(value, t_ms)) {
    return Transition::none;
  }
  m_value = value;
  const double clear_level = m_spec.effective_clear_level();
  const bool above = m_spec.compare == Compare::above;
  const bool fire_condition = above ? value > m_spec.fire_level : value < m_spec.fire_level;
  const bool clear_condition = above ? value <= clear_level : value >= clear_level;
  return m_latch.update(fire_condition, clear_condition, t_ms);
}

} // namespace medic::detect
