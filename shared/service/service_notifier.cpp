// SPDX-License-Identifier: Apache-2.0
#include "shared/service/service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <spdlog/spdlog.h>

#include "shared/uv/handle.hpp"

namespace medic::service {

namespace {

// One line of STATUS=: a newline would start another (unknown) assignment.
std::string status_line(std::string_view status) {
  std::string line = "STATUS=";
  for (const char c : status.substr(0, 200)) {
    line += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return line;
}

std::uint64_t monotonic_usec() noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000U +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000U;
}

} // namespace

ServiceNotifier::ServiceNotifier(uv_loop_t& loop) : m_loop(loop) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  m_active = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is this process.
  if (m_active && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    m_watchdog_interval = std::chrono::milliseconds(std::max<std::uint64_t>(1, usec / 2000));
  }
}

void ServiceNotifier::ready(std::string_view status) noexcept {
  if (!m_active) {
    return;
  }
  try {
    send("READY=1\n" + status_line(status));
  } catch (const std::exception& e) {
    spdlog::warn("systemd notification: {}", e.what());
  }
  if (m_watchdog_interval.count() > 0 && m_watchdog.loop == nullptr) {
    uv_timer_init(&m_loop, &m_watchdog);
    m_watchdog.data = this;
    const auto every = static_cast<std::uint64_t>(m_watchdog_interval.count());
    uv_timer_start(&m_watchdog, &ServiceNotifier::on_watchdog, every, every);
    spdlog::info("systemd watchdog: WATCHDOG=1 every {} ms", every);
  }
}

void ServiceNotifier::reloading(std::string_view status) noexcept {
  if (!m_active) {
    return;
  }
  try {
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) + "\n" +
         status_line(status));
  } catch (const std::exception& e) {
    spdlog::warn("systemd notification: {}", e.what());
  }
}

void ServiceNotifier::stopping(std::string_view status) noexcept {
  close();
  if (!m_active) {
    return;
  }
  try {
    send("STOPPING=1\n" + status_line(status));
  } catch (const std::exception& e) {
    spdlog::warn("systemd notification: {}", e.what());
  }
}

void ServiceNotifier::status(std::string_view status) noexcept {
  if (!m_active) {
    return;
  }
  try {
    send(status_line(status));
  } catch (const std::exception& e) {
    spdlog::warn("systemd notification: {}", e.what());
  }
}

void ServiceNotifier::close() noexcept {
  uv::close_handle(m_watchdog);
}

void ServiceNotifier::on_watchdog(uv_timer_t* timer) noexcept {
  auto* self = static_cast<ServiceNotifier*>(timer->data);
  try {
    self->send("WATCHDOG=1");
  } catch (const std::exception& e) {
    spdlog::warn("systemd watchdog: {}", e.what());
  }
}

void ServiceNotifier::send(const std::string& message) noexcept {
  // One datagram to NOTIFY_SOCKET: a short local send (it could wait only if systemd stopped
  // reading its notification socket). Failures are counted and logged, never retried.
  const int sent = sd_notify(0, message.c_str());
  if (sent > 0) {
    ++m_sent;
    return;
  }
  ++m_failed;
  if (m_failed == 1 || m_failed % 100 == 0) {
    spdlog::warn("systemd notification failed ({} so far): {}", m_failed,
                 sent < 0 ? std::string(std::strerror(-sent)) : "NOTIFY_SOCKET unset");
  }
}

} // namespace medic::service
