// SPDX-License-Identifier: Apache-2.0
// Drives a ZeroMQ socket from the libuv loop: a uv_poll_t on ZMQ_FD, with the edge-triggered rule
// handled. ZMQ_FD only says "ZMQ_EVENTS may have changed", and any zmq_send/zmq_recv on the socket
// can consume that edge, so after every wake-up and every send we re-read ZMQ_EVENTS and drain
// until it no longer reports POLLIN. A watcher built with `until_empty` instead receives until
// the socket says EAGAIN and reads ZMQ_EVENTS once then (each read of it costs libzmq a poll()
// and a getpid()), which after EAGAIN is still required before sleeping on the fd: it processes
// the commands that arrived meanwhile and re-arms the edge.
// Draining is bounded per loop turn (`k_budget` messages);
// when the budget runs out a uv_idle_t continues on the next turn so timers and other sockets
// are never starved. Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include <uv.h>
#include <zmq.hpp>

#include "shared/error.hpp"

namespace medic::uv {

class ZmqWatcher {
public:
  // Called while ZMQ_EVENTS reports POLLIN; it must receive exactly one whole message
  // (all its frames) with zmq::recv_flags::dontwait. It may send replies.
  using ReadHandler = std::function<void()>;
  // For `until_empty`: receives at most one whole message with zmq::recv_flags::dontwait and
  // returns false when there was none (EAGAIN) or it chose not to read (after pause()).
  using ReceiveHandler = std::function<bool()>;
  // Called when ZMQ_EVENTS reports POLLOUT and write interest is on.
  using WriteHandler = std::function<void()>;
  struct UntilEmpty {};
  static constexpr UntilEmpty until_empty{};

  static constexpr int k_budget = 256;

  ZmqWatcher(uv_loop_t& loop, zmq::socket_ref socket, ReadHandler on_readable,
             WriteHandler on_writable = {});
  ZmqWatcher(uv_loop_t& loop, zmq::socket_ref socket, UntilEmpty, ReceiveHandler on_message,
             WriteHandler on_writable = {});
  ZmqWatcher(const ZmqWatcher&) = delete;
  ZmqWatcher& operator=(const ZmqWatcher&) = delete;

  [[nodiscard]] Result<void> start();
  // Call after every send on the socket: the send may have swallowed the ZMQ_FD edge.
  void kick() noexcept;
  // Ask for on_writable once the socket can take a message again (after EAGAIN on send).
  void want_writable(bool on) noexcept;
  // Stops reading (the handler is not called) until resume(): ZeroMQ's queue, then TCP, push
  // back on the peers. For a consumer that is full.
  void pause() noexcept { m_paused = true; }
  void resume() noexcept {
    m_paused = false;
    kick();
  }
  [[nodiscard]] bool paused() const noexcept { return m_paused; }
  // Called once at the end of every drain that read something: the place to hand over work
  // gathered message by message as one piece.
  void set_on_drained(std::function<void()> on_drained) { m_on_drained = std::move(on_drained); }
  void close() noexcept;
  // Closes the handles and deletes the watcher once libuv is done with them, for a watcher
  // replaced while the loop runs (its socket was recreated).
  static void dispose(std::unique_ptr<ZmqWatcher> watcher) noexcept;

  [[nodiscard]] std::uint64_t handler_failures() const noexcept { return m_handler_failures; }

private:
  static void on_poll(uv_poll_t* handle, int status, int events) noexcept;
  static void on_idle(uv_idle_t* handle) noexcept;
  void drain() noexcept;
  void drain_until_empty() noexcept;
  // Reads ZMQ_EVENTS; nullopt once the socket is gone (ETERM, ENOTSOCK while shutting down).
  [[nodiscard]] std::optional<int> events() noexcept;
  // Runs the write handler when write interest is on and `events` has POLLOUT; true if it ran.
  bool serve_writable(int events) noexcept;
  void drained(bool handled_any) noexcept;

  uv_loop_t& m_loop;
  zmq::socket_ref m_socket;
  ReadHandler m_on_readable;
  ReceiveHandler m_on_message; // set for `until_empty`, instead of m_on_readable
  WriteHandler m_on_writable;
  std::function<void()> m_on_drained;
  uv_poll_t m_poll{};
  uv_idle_t m_idle{};
  bool m_started = false;
  int m_open_handles = 0; // for dispose(): handles whose close callback has not run
  bool m_want_writable = false;
  bool m_paused = false;
  std::uint64_t m_handler_failures = 0;
};

} // namespace medic::uv
