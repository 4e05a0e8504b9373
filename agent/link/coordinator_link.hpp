// SPDX-License-Identifier: Apache-2.0
// The agent's side of the wire: one ZeroMQ DEALER socket to the coordinator, driven from the
// libuv loop. Sends HELLO and BATCH, reads ACK and ERROR. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <uv.h>
#include <zmq.hpp>

#include "protocol/message.hpp"
#include "shared/clock.hpp"
#include "shared/error.hpp"
#include "shared/log/logging.hpp"
#include "shared/uv/zmq_watcher.hpp"

namespace medic::agent::link {

struct LinkSettings {
  std::string endpoint;
  std::string agent_id;
  protocol::Hello hello;
  int send_queue = 100;
};

struct LinkCounters {
  std::uint64_t batches_sent = 0;
  std::uint64_t samples_sent = 0;
  std::uint64_t batches_dropped = 0; // the send queue was full
  std::uint64_t acks = 0;
  std::uint64_t errors_received = 0;
  std::uint64_t malformed_received = 0;
  std::uint64_t last_acked_seq = 0;
};

class CoordinatorLink {
public:
  CoordinatorLink(uv_loop_t& loop, zmq::context_t& context, const Clock& clock,
                  LinkSettings settings);
  CoordinatorLink(const CoordinatorLink&) = delete;
  CoordinatorLink& operator=(const CoordinatorLink&) = delete;

  // Connects (ZeroMQ reconnects by itself from then on) and queues HELLO.
  [[nodiscard]] Result<void> start();
  // Encodes and queues one batch with the next sequence number. Never blocks: when ZeroMQ's
  // queue is full the batch is dropped and counted.
  void send_batch(std::span<const protocol::SampleView> samples) noexcept;
  // Stops watching and closes the socket; pending messages get the socket's linger time.
  void close() noexcept;

  [[nodiscard]] const LinkCounters& counters() const noexcept { return m_counters; }

private:
  void send_hello() noexcept;
  bool send_frame(std::string_view what) noexcept;
  void on_readable();
  [[nodiscard]] protocol::Envelope envelope(std::uint64_t seq) const;

  const Clock& m_clock;
  LinkSettings m_settings;
  zmq::socket_t m_socket;
  uv::ZmqWatcher m_watcher;
  std::string m_frame; // reused encoding buffer
  std::uint64_t m_next_seq = 1;
  LinkCounters m_counters;
  log::RateLimiter m_log_limit{5, 10'000};
};

} // namespace medic::agent::link
