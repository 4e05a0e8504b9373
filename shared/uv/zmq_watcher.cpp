// SPDX-License-Identifier: Apache-2.0
#include "shared/uv/zmq_watcher.hpp"

#include <spdlog/spdlog.h>

#include "shared/uv/handle.hpp"

namespace medic::uv {

ZmqWatcher::ZmqWatcher(uv_loop_t& loop, zmq::socket_ref socket, ReadHandler on_readable,
                       WriteHandler on_writable)
    : m_loop(loop),
      m_socket(socket),
      m_on_readable(std::move(on_readable)),
      m_on_writable(std::move(on_writable)) {}

ZmqWatcher::ZmqWatcher(uv_loop_t& loop, zmq::socket_ref socket, UntilEmpty,
                       ReceiveHandler on_message, WriteHandler on_writable)
    : m_loop(loop),
      m_socket(socket),
      m_on_message(std::move(on_message)),
      m_on_writable(std::move(on_writable)) {}

Result<void> ZmqWatcher::start() {
  const auto fd = m_socket.get(zmq::sockopt::fd);
  if (const int rc = uv_poll_init(&m_loop, &m_poll, fd); rc != 0) {
    return fail(ErrorCode::io, std::string("watching the ZeroMQ socket: ") + uv_strerror(rc));
  }
  m_poll.data = this;
  uv_idle_init(&m_loop, &m_idle);
  m_idle.data = this;
  m_started = true;
  if (const int rc = uv_poll_start(&m_poll, UV_READABLE, &ZmqWatcher::on_poll); rc != 0) {
    return fail(ErrorCode::io, std::string("watching the ZeroMQ socket: ") + uv_strerror(rc));
  }
  // Messages may already be queued before the first edge: look once.
  kick();
  return {};
}

void ZmqWatcher::kick() noexcept {
  if (m_started && uv_is_closing(reinterpret_cast<uv_handle_t*>(&m_idle)) == 0) {
    uv_idle_start(&m_idle, &ZmqWatcher::on_idle);
  }
}

void ZmqWatcher::want_writable(bool on) noexcept {
  m_want_writable = on;
  if (on) {
    kick();
  }
}

void ZmqWatcher::on_poll(uv_poll_t* handle, int status, int) noexcept {
  auto* self = static_cast<ZmqWatcher*>(handle->data);
  if (status < 0) {
    spdlog::warn("ZeroMQ socket poll error: {}", uv_strerror(status));
  }
  self->drain();
}

void ZmqWatcher::on_idle(uv_idle_t* handle) noexcept {
  static_cast<ZmqWatcher*>(handle->data)->drain();
}

void ZmqWatcher::drain() noexcept {
  if (!m_started) {
    return;
  }
  if (m_on_message) {
    drain_until_empty();
    return;
  }
  bool handled_any = false;
  for (int handled = 0; handled < k_budget; ++handled) {
    int events = 0;
    try {
      events = m_socket.get(zmq::sockopt::events);
    } catch (const zmq::error_t& e) {
      // ETERM or ENOTSOCK while shutting down: nothing more to read.
      uv_idle_stop(&m_idle);
      return;
    }
    const bool writable_wanted = m_want_writable && (events & ZMQ_POLLOUT) != 0;
    const bool readable = (events & ZMQ_POLLIN) != 0 && !m_paused;
    if (!readable && !writable_wanted) {
      uv_idle_stop(&m_idle);
      drained(handled_any);
      return;
    }
    try {
      if (writable_wanted) {
        m_want_writable = false;
        if (m_on_writable) {
          m_on_writable();
        }
      }
      if (readable) {
        handled_any = true;
        m_on_readable();
      }
    } catch (const std::exception& e) {
      ++m_handler_failures;
      spdlog::error("ZeroMQ message handler failed: {}", e.what());
    }
    if (!m_started) {
      return; // the handler closed or disposed of this watcher
    }
  }
  // Budget spent with work left: continue on the next loop turn.
  uv_idle_start(&m_idle, &ZmqWatcher::on_idle);
  drained(handled_any);
}

std::optional<int> ZmqWatcher::events() noexcept {
  try {
    return m_socket.get(zmq::sockopt::events);
  } catch (const zmq::error_t&) {
    return std::nullopt;
  }
}

bool ZmqWatcher::serve_writable(int events) noexcept {
  if (!m_want_writable || (events & ZMQ_POLLOUT) == 0) {
    return false;
  }
  m_want_writable = false;
  try {
    if (m_on_writable) {
      m_on_writable();
    }
  } catch (const std::exception& e) {
    ++m_handler_failures;
    spdlog::error("ZeroMQ write handler failed: {}", e.what());
  }
  return true;
}

// Receives until EAGAIN without asking ZMQ_EVENTS per message, then asks once: whether anything
// came in meanwhile (go on), the socket can be written again, or it is safe to sleep on ZMQ_FD.
// Every received message and every write handler call counts against k_budget.
void ZmqWatcher::drain_until_empty() noexcept {
  bool handled_any = false;
  int handled = 0;
  for (;;) {
    while (!m_paused && handled < k_budget) {
      bool received = true; // a handler that threw may have consumed a message: keep counting
      try {
        received = m_on_message();
      } catch (const std::exception& e) {
        ++m_handler_failures;
        spdlog::error("ZeroMQ message handler failed: {}", e.what());
      }
      if (!m_started) {
        return; // the handler closed or disposed of this watcher
      }
      if (!received) {
        break;
      }
      handled_any = true;
      ++handled;
    }
    const std::optional<int> now = events();
    if (!now) {
      uv_idle_stop(&m_idle); // shutting down: nothing more to read
      return;
    }
    if (handled < k_budget && serve_writable(*now)) {
      ++handled;
      if (!m_started) {
        return;
      }
      continue; // the handler's sends may have taken the edge: look again
    }
    if ((*now & ZMQ_POLLIN) != 0 && !m_paused) {
      if (handled < k_budget) {
        continue;
      }
      // Budget spent with work left: continue on the next loop turn.
      uv_idle_start(&m_idle, &ZmqWatcher::on_idle);
      drained(handled_any);
      return;
    }
    if (m_want_writable && (*now & ZMQ_POLLOUT) != 0) {
      uv_idle_start(&m_idle, &ZmqWatcher::on_idle); // budget spent before the write handler
    } else {
      uv_idle_stop(&m_idle);
    }
    drained(handled_any);
    return;
  }
}

void ZmqWatcher::drained(bool handled_any) noexcept {
  if (!handled_any || !m_on_drained) {
    return;
  }
  try {
    m_on_drained();
  } catch (const std::exception& e) {
    ++m_handler_failures;
    spdlog::error("ZeroMQ drain handler failed: {}", e.what());
  }
}

void ZmqWatcher::dispose(std::unique_ptr<ZmqWatcher> watcher) noexcept {
  if (!watcher->m_started) {
    return; // never started: no handle to wait for, the unique_ptr deletes it
  }
  watcher->m_started = false;
  watcher->m_open_handles = 2;
  ZmqWatcher* raw = watcher.release();
  const auto on_closed = [](uv_handle_t* handle) {
    auto* self = static_cast<ZmqWatcher*>(handle->data);
    if (--self->m_open_handles == 0) {
      delete self;
    }
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&raw->m_poll), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&raw->m_idle), on_closed);
}

void ZmqWatcher::close() noexcept {
  if (m_started) {
    m_started = false;
    close_handle(m_poll);
    close_handle(m_idle);
  }
}

} // namespace medic::uv
