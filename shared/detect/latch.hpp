// SPDX-License-Identifier: Apache-2.0
// What the numeric detectors of shared/detect have in common.
//
// Every detector is a small state machine fed one value at a time with a timestamp in
// milliseconds (std::int64_t t_ms, from a monotonic clock). update(value, t_ms) returns a
// Transition: `fire` on the sample where the detector starts firing, `clear` on the sample where
// it stops, `none` otherwise; firing() says where it stands in between.
//
// Inputs no detector may use are dropped and counted, never UB:
//   - a NaN or infinite value (InputFilter::non_finite());
//   - a timestamp earlier than the last accepted one (InputFilter::out_of_order()).
// A timestamp equal to the last accepted one is accepted (two samples in the same millisecond).
//
// The detectors are deterministic, do no I/O, and allocate only in their constructor. None is
// thread-safe: each belongs to the thread that feeds it (the agent's loop).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

namespace medic::detect {

enum class Transition : std::uint8_t { none, fire, clear };

// Which side of a level is the bad one.
enum class Compare : std::uint8_t { above, below };

[[nodiscard]] std::string_view to_string(Transition transition) noexcept;
[[nodiscard]] std::string_view to_string(Compare compare) noexcept;

// Drops and counts non-finite values and backwards timestamps.
class InputFilter {
public:
  // True when the sample may be used; the timestamp then becomes the last accepted one.
  [[nodiscard]] bool accept(double value, std::int64_t t_ms) noexcept {
    if (!std::isfinite(value)) {
      ++m_non_finite;
      return false;
    }
    if (t_ms < m_last_ms) {
      ++m_out_of_order;
      return false;
    }
    m_last_ms = t_ms;
    return true;
  }

  [[nodiscard]] std::uint64_t non_finite() const noexcept { return m_non_finite; }
  [[nodiscard]] std::uint64_t out_of_order() const noexcept { return m_out_of_order; }

private:
  std::int64_t m_last_ms = std::numeric_limits<std::int64_t>::min();
  std::uint64_t m_non_finite = 0;
  std::uint64_t m_out_of_order = 0;
};

// The firing state with its two hold durations.
//
// While clear, the detector fires on the first sample at which `fire_condition` has been true on
// every accepted sample since a sample at least `fire_for` earlier: the hold starts at the first
// sample where the condition is true and is broken by any sample where it is false. With
// fire_for = 0 it fires on the first sample where the condition is true. Between two samples the
// condition is assumed to have held (as in Prometheus' `for`), so a long gap in the samples does
// not break a hold. `clear_condition` and `clear_for` work the same way while firing.
class Latch {
public:
  Latch(std::chrono::milliseconds fire_for, std::chrono::milliseconds clear_for) noexcept
      : m_fire_for(fire_for.count()), m_clear_for(clear_for.count()) {}

  // fire_condition is looked at while clear, clear_condition while firing.
  Transition update(bool fire_condition, bool clear_condition, std::int64_t t_ms) noexcept {
    if (!m_firing) {
      if (held(fire_condition, t_ms, m_fire_for)) {
        m_firing = true;
        m_since = k_none;
        return Transition::fire;
      }
      return Transition::none;
    }
    if (held(clear_condition, t_ms, m_clear_for)) {
      m_firing = false;
      m_since = k_none;
      return Transition::clear;
    }
    return Transition::none;
  }

  // Clears at once, without waiting for clear_for (a detector whose evidence was reset).
  Transition force_clear() noexcept {
    m_since = k_none;
    if (!m_firing) {
      return Transition::none;
    }
    m_firing = false;
    return Transition::clear;
  }

  [[nodiscard]] bool firing() const noexcept { return m_firing; }

private:
  static constexpr std::int64_t k_none = std::numeric_limits<std::int64_t>::min();

  bool held(bool condition, std::int64_t t_ms, std::int64_t duration_ms) noexcept {
    if (!condition) {
      m_since = k_none;
      return false;
    }
    if (m_since == k_none) {
      m_since = t_ms;
    }
    return t_ms - m_since >= duration_ms;
  }

  std::int64_t m_fire_for;
  std::int64_t m_clear_for;
  std::int64_t m_since = k_none; // first sample of the current hold, k_none when none
  bool m_firing = false;
};

} // namespace medic::detect
