// SPDX-License-Identifier: Apache-2.0
#include "shared/uv/signal_watch.hpp"

#include <csignal>

#include <spdlog/spdlog.h>

#include "shared/uv/handle.hpp"

namespace medic::uv {

SignalWatch::SignalWatch(uv_loop_t& loop, std::function<void(int)> on_stop,
                         std::function<void()> on_reload)
    : m_on_stop(std::move(on_stop)), m_on_reload(std::move(on_reload)) {
  // A peer that hangs up must surface as EPIPE on the write, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  for (auto [handle, signum] : {std::pair{&m_term, SIGTERM}, {&m_int, SIGINT}, {&m_hup, SIGHUP}}) {
    uv_signal_init(&loop, handle);
    handle->data = this;
    uv_signal_start(handle, &SignalWatch::on_signal, signum);
  }
}

void SignalWatch::on_signal(uv_signal_t* handle, int signum) noexcept {
  auto* self = static_cast<SignalWatch*>(handle->data);
  try {
    if (signum == SIGHUP) {
      if (self->m_on_reload) {
        self->m_on_reload();
      }
    } else if (self->m_on_stop) {
      self->m_on_stop(signum);
    }
  } catch (const std::exception& e) {
    spdlog::error("signal {} handler failed: {}", signum, e.what());
  }
}

void SignalWatch::close() noexcept {
  close_handle(m_term);
  close_handle(m_int);
  close_handle(m_hup);
}

} // namespace medic::uv
