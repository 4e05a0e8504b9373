// SPDX-License-Identifier: Apache-2.0
#include "agent/detect/log_window.hpp"

#include <algorithm>

namespace medic::agent::detect {

LogCountWindow::LogCountWindow(std::uint32_t threshold, std::int64_t window_ms,
                               std::int64_t quiet_ms)
    : m_threshold(std::max<std::uint32_t>(threshold, 1)),
      m_window_ms(std::max<std::int64_t>(window_ms, 1)),
      m_quiet_ms(std::max<std::int64_t>(quiet_ms, 0)),
      m_ring(m_threshold) {}

std::int64_t LogCountWindow::clamp(std::int64_t t_ms) noexcept {
  m_last_ms = std::max(m_last_ms, t_ms);
  return m_last_ms;
}

void LogCountWindow::expire(std::int64_t t_ms) noexcept {
  while (m_size > 0 && t_ms - m_ring[m_head] >= m_window_ms) {
    const std::int64_t fell_at = m_ring[m_head] + m_window_ms;
    m_head = (m_head + 1) % m_threshold;
    --m_size;
    if (m_firing && m_size < m_threshold && !m_below_since) {
      m_below_since = fell_at;
    }
  }
}

WindowChange LogCountWindow::check_clear(std::int64_t t_ms) noexcept {
  if (m_firing && m_below_since && t_ms - *m_below_since >= m_quiet_ms) {
    m_firing = false;
    m_below_since.reset();
    return WindowChange::clear;
  }
  return WindowChange::none;
}

WindowChange LogCountWindow::record(std::int64_t t_ms) {
  t_ms = clamp(t_ms);
  expire(t_ms);
  if (m_size == m_threshold) {
    m_head = (m_head + 1) % m_threshold; // the oldest no longer matters (see the header)
    --m_size;
  }
  m_ring[(m_head + m_size) % m_threshold] = t_ms;
  ++m_size;
  if (m_size < m_threshold) {
    return WindowChange::none;
  }
  m_below_since.reset();
  if (m_firing) {
    return WindowChange::none;
  }
  m_firing = true;
  return WindowChange::fire;
}

WindowChange LogCountWindow::advance(std::int64_t t_ms) {
  t_ms = clamp(t_ms);
  expire(t_ms);
  return check_clear(t_ms);
}

} // namespace medic::agent::detect
