// SPDX-License-Identifier: Apache-2.0
// Tells systemd (a Type=notify unit) how the daemon is doing, through libsystemd's sd_notify:
// READY=1 once it has started, WATCHDOG=1 from a loop timer at half of WatchdogSec (so a loop
// that stops turning is killed and restarted), RELOADING=1 and READY=1 around a reload,
// STOPPING=1 on the way out, and STATUS= lines for `systemctl status`. When NOTIFY_SOCKET is
// unset (not started by systemd) every call does nothing. Loop thread only.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace medic::service {

class ServiceNotifier {
public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID once; `loop` must outlive this object.
  explicit ServiceNotifier(uv_loop_t& loop);
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;
  ~ServiceNotifier() = default;

  // READY=1 with a STATUS= line; starts the watchdog timer when systemd asked for one.
  void ready(std::string_view status) noexcept;
  // RELOADING=1 (with MONOTONIC_USEC, which systemd 253's Type=notify-reload wants).
  void reloading(std::string_view status) noexcept;
  // STOPPING=1; stops and closes the watchdog timer (the loop may then run out of handles).
  void stopping(std::string_view status) noexcept;
  void status(std::string_view status) noexcept;
  // Closes the watchdog timer without telling systemd anything (start-up failed).
  void close() noexcept;

  // True when NOTIFY_SOCKET was set: systemd listens.
  [[nodiscard]] bool active() const noexcept { return m_active; }
  // Half of WatchdogSec, the interval WATCHDOG=1 is sent at; zero when there is no watchdog.
  [[nodiscard]] std::chrono::milliseconds watchdog_interval() const noexcept {
    return m_watchdog_interval;
  }
  // Messages sent successfully and refused (counted, never retried).
  [[nodiscard]] std::uint64_t sent() const noexcept { return m_sent; }
  [[nodiscard]] std::uint64_t failed() const noexcept { return m_failed; }

private:
  static void on_watchdog(uv_timer_t* timer) noexcept;
  void send(const std::string& message) noexcept;

  uv_loop_t& m_loop;
  uv_timer_t m_watchdog{};
  bool m_active = false;
  std::chrono::milliseconds m_watchdog_interval{0};
  std::uint64_t m_sent = 0;
  std::uint64_t m_failed = 0;
};

} // namespace medic::service
