// SPDX-License-Identifier: Apache-2.0
// Process-wide logging set-up (spdlog on stdout, journald-friendly) and a rate limiter for lines
// that untrusted input can trigger.
#pragma once

#include <cstdint>
#include <string_view>

#include <spdlog/spdlog.h>

#include "shared/error.hpp"

namespace medic::log {

// Accepts trace, debug, info, warn, error, critical, off.
[[nodiscard]] Result<spdlog::level::level_enum> parse_level(std::string_view text);

// Installs the default logger named after the program. Under systemd (JOURNAL_STREAM set) lines
// carry a syslog priority prefix and no timestamp, since the journal adds its own.
void init(std::string_view program, spdlog::level::level_enum level);

// Lets at most `burst` lines through per `period_ms`; counts the rest. Loop thread only.
class RateLimiter {
public:
  RateLimiter(std::uint32_t burst, std::int64_t period_ms) noexcept
      : m_burst(burst), m_period_ms(period_ms) {}

  // True when a line may be written now. `suppressed` tells how many were held back since the
  // last line that went through, so the caller can say so.
  [[nodiscard]] bool allow(std::int64_t now_ms, std::uint64_t& suppressed) noexcept;

private:
  std::uint32_t m_burst;
  std::int64_t m_period_ms;
  std::int64_t m_window_start_ms = 0;
  std::uint32_t m_used = 0;
  std::uint64_t m_suppressed = 0;
};

} // namespace medic::log
