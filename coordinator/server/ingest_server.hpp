// SPDX-License-Identifier: Apache-2.0
// The coordinator's side of the wire: a ZeroMQ ROUTER that agents connect to, driven from the
// libuv loop. Decodes every frame strictly, hands HELLO and BATCH to the storage worker, and
// acks a batch only once the store has it. Loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>

#include <uv.h>
#include <zmq.hpp>

#include "coordinator/storage/store.hpp"
#include "protocol/message.hpp"
#include "shared/clock.hpp"
#include "shared/error.hpp"
#include "shared/log/logging.hpp"
#include "shared/uv/worker.hpp"
#include "shared/uv/zmq_watcher.hpp"

namespace medic::coordinator::server {

struct IngestSettings {
  std::string listen;
  int receive_queue = 10'000;
};

struct IngestCounters {
  std::uint64_t frames = 0;
  std::uint64_t hellos = 0;
  std::uint64_t batches = 0;      // stored
  std::uint64_t samples = 0;      // in stored batches
  std::uint64_t duplicates = 0;   // (agent, seq) already stored: acked, not stored again
  std::uint64_t malformed = 0;    // dropped by the decoder
  std::uint64_t refused_busy = 0; // storage queue full: not acked, the agent resends
  std::uint64_t storage_errors = 0;
  std::uint64_t acks_sent = 0;
  std::uint64_t replies_failed = 0;
};

class IngestServer {
public:
  // `store` is only ever touched from `storage_worker`'s thread.
  IngestServer(uv_loop_t& loop, zmq::context_t& context, const Clock& clock,
               uv::Worker& storage_worker, storage::Store& store, IngestSettings settings);
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Binds; "address already in use" comes back as a clear error.
  [[nodiscard]] Result<void> start();
  // The bound endpoint, with the real port when the config asked for tcp://host:*.
  [[nodiscard]] const std::string& endpoint() const noexcept { return m_endpoint; }
  [[nodiscard]] const IngestCounters& counters() const noexcept { return m_counters; }
  // Shutdown is two steps so stored batches can still be acked: stop taking frames, let the
  // storage worker drain (its completions send the acks), then close the socket.
  void stop_receiving() noexcept;
  void close() noexcept;

private:
  void on_readable();
  void handle_frame(const std::string& peer, std::string_view frame);
  void handle_hello(const std::string& peer, protocol::Message message);
  void handle_batch(const std::string& peer, protocol::Message message);
  void on_batch_stored(const std::string& peer, const std::string& agent_id, std::uint64_t seq,
                       std::size_t samples, Result<storage::BatchOutcome> outcome);
  void reply(const std::string& peer, const std::string& frame) noexcept;
  void reply_error(const std::string& peer, const protocol::Envelope& to, std::string code,
                   std::string message) noexcept;
  void complain(std::string_view what, const std::string& peer, std::string_view detail) noexcept;

  uv_loop_t& m_loop;
  const Clock& m_clock;
  uv::Worker& m_storage_worker;
  storage::Store& m_store;
  IngestSettings m_settings;
  zmq::socket_t m_socket;
  uv::ZmqWatcher m_watcher;
  std::string m_endpoint;
  std::string m_reply_frame;
  std::uint64_t m_next_seq = 1;
  // Agents that sent HELLO since this coordinator started; others are asked to say it again.
  std::unordered_set<std::string> m_greeted;
  IngestCounters m_counters;
  log::RateLimiter m_log_limit{10, 10'000};
};

} // namespace medic::coordinator::server
