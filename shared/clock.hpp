// SPDX-License-Identifier: Apache-2.0
// Time sources. Engines take a Clock& so tests can drive time by hand.
#pragma once

#include <chrono>
#include <cstdint>

namespace medic {

class Clock {
public:
  virtual ~Clock() = default;
  // Wall-clock time in Unix milliseconds: what goes on the wire and into storage.
  [[nodiscard]] virtual std::int64_t now_unix_ms() const noexcept = 0;
  // Monotonic milliseconds for timeouts and durations; never goes back.
  [[nodiscard]] virtual std::int64_t monotonic_ms() const noexcept = 0;
};

class SystemClock final : public Clock {
public:
  [[nodiscard]] std::int64_t now_unix_ms() const noexcept override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  [[nodiscard]] std::int64_t monotonic_ms() const noexcept override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

} // namespace medic
