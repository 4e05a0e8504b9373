// SPDX-License-Identifier: Apache-2.0
// Turns SIGTERM/SIGINT (stop) and SIGHUP (reload) into loop callbacks.
#pragma once

#include <functional>

#include <uv.h>

namespace medic::uv {

class SignalWatch {
public:
  // Callbacks run on the loop thread.
  SignalWatch(uv_loop_t& loop, std::function<void(int)> on_stop, std::function<void()> on_reload);
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  void close() noexcept;

private:
  static void on_signal(uv_signal_t* handle, int signum) noexcept;

  std::function<void(int)> m_on_stop;
  std::function<void()> m_on_reload;
  uv_signal_t m_term{};
  uv_signal_t m_int{};
  uv_signal_t m_hup{};
};

} // namespace medic::uv
