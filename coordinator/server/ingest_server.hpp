// SPDX-License-Identifier: Apache-2.0
// The coordinator's side of the wire: a CURVE-secured ZeroMQ ROUTER that enrolled agents
// connect to, driven from the libuv loop. Every frame is decoded strictly and checked against
// the key it arrived over; HELLO and BATCH go to the storage worker, and a batch is acked only
// once the store has it; heartbeats are answered at once. Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <uv.h>
#include <zmq.hpp>

#include "coordinator/metrics/registry.hpp"
#include "coordinator/server/ingest_listener.hpp"
#include "coordinator/server/zap_handler.hpp"
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
  std::string secret_key;           // the coordinator's CURVE secret key, Z85
  std::size_t storage_queue = 1024; // batches handed to storage and not yet stored, at most
};

// Why a frame was counted as malformed: protocol::DecodeFailure's codes in its order, then a
// message of other than one frame, and a message type coordinators are not sent.
inline constexpr std::array<std::string_view, 6> k_malformed_reasons = {
    "malformed",    "too-large",   "unsupported-version",
    "unknown-type", "frame-count", "unexpected-type"};

struct IngestCounters {
  std::uint64_t frames = 0;
  std::uint64_t hellos = 0;
  std::uint64_t batches = 0;    // stored
  std::uint64_t samples = 0;    // in stored batches
  std::uint64_t duplicates = 0; // (agent, seq) already stored: acked, not stored again
  std::uint64_t heartbeats = 0;
  std::uint64_t results = 0;
  std::uint64_t malformed = 0;    // refused by the decoder (answered with ERROR)
  std::uint64_t unauthorized = 0; // revoked key, or an agent id the key may not speak for
  std::uint64_t refused_busy = 0; // storage queue full: not acked, the agent resends
  std::uint64_t paused = 0;       // times reading stopped because storage was full
  std::uint64_t storage_errors = 0;
  std::uint64_t acks_sent = 0;
  std::uint64_t replies_failed = 0;
  std::uint64_t cut_offs = 0; // times the socket was recreated to drop revoked agents
  std::array<std::uint64_t, k_malformed_reasons.size()> malformed_by_reason{}; // sums to malformed
};

// What the loop knows of a connected agent right now (not stored: it is gone on restart).
struct Peer {
  std::string routing_id;
  std::int64_t last_contact_ms = 0; // monotonic
  protocol::Heartbeat last_heartbeat;
};

class IngestServer final : public CommandSender {
public:
  // `store` is only ever touched from `storage_worker`'s thread.
  IngestServer(uv_loop_t& loop, zmq::context_t& context, const Clock& clock, const ZapHandler& zap,
               uv::Worker& storage_worker, storage::Store& store, IngestSettings settings);
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;
  ~IngestServer() override;

  // Who hears of HELLOs, stored batches and RESULTs (the engine); before start().
  void set_listener(IngestListener* listener) noexcept { m_listener = listener; }
  [[nodiscard]] Result<void> send_command(const std::string& agent_id,
                                          const protocol::Command& command) noexcept override;
  [[nodiscard]] Result<void> send_policy(const std::string& agent_id,
                                         const protocol::Policy& policy) noexcept override;

  // Binds; "address already in use" comes back as a clear error.
  [[nodiscard]] Result<void> start();
  // The bound endpoint, with the real port when the config asked for tcp://host:*.
  [[nodiscard]] const std::string& endpoint() const noexcept { return m_endpoint; }
  [[nodiscard]] const IngestCounters& counters() const noexcept { return m_counters; }
  // Batches handed to storage and not yet stored, and the bound at which reading pauses.
  [[nodiscard]] std::size_t batches_waiting() const noexcept { return m_batches_in_storage; }
  [[nodiscard]] std::size_t batches_bound() const noexcept { return m_settings.storage_queue; }
  // True while reading is stopped because storage is full.
  [[nodiscard]] bool paused() const noexcept { return m_watcher && m_watcher->paused(); }
  // Where the storage worker records how long each group of batches took in the store (any
  // thread may read it); before start().
  void set_store_latency(metrics::Histogram* histogram) noexcept { m_store_latency = histogram; }
  [[nodiscard]] const std::unordered_map<std::string, Peer>& peers() const noexcept {
    return m_peers;
  }

  // After a revocation: closes every connection (by recreating the socket on the same
  // endpoint), so each agent must pass the ZAP allowlist again. Its messages are refused from
  // the moment of revocation in any case.
  void cut_off(const std::string& agent_id) noexcept;

  // Shutdown is two steps so stored batches can still be acked: stop taking frames, let the
  // storage worker drain (its completions send the acks), then close the socket.
  void stop_receiving() noexcept;
  void close() noexcept;

private:
  [[nodiscard]] Result<void> open_socket();
  static void on_rebind_timer(uv_timer_t* timer) noexcept;
  // One message off the ROUTER, if there was one (the watcher reads until EAGAIN).
  bool on_message();
  void handle_frame(const std::string& peer, std::string_view key, std::string_view frame);
  void handle_hello(const std::string& peer, protocol::Message message);
  void handle_batch(const std::string& peer, protocol::Message message);
  void handle_heartbeat(const std::string& peer, const protocol::Message& message);
  void handle_result(const protocol::Message& message);
  // Batches decoded in one drain go to the storage worker as one job: one wake-up of each
  // thread per drain instead of per batch. Hands the batches read so far to the storage worker as one group. Unless `force`d, waits
  // while k_max_store_jobs groups are already there: under load the next group grows instead
  // (one transaction for more batches), and the completion of a group hands it over.
  void flush_pending(bool force = false) noexcept;
  void on_batch_stored(const std::string& peer, const protocol::Message& message,
                       std::int64_t received_ms, Result<storage::BatchOutcome> outcome);
  // Reading stops while the storage queue is full; this restarts it once half of it drained.
  void maybe_resume() noexcept;
  // Fills m_reply_envelope (its agent_id buffer reused) for the next reply to `agent_id`.
  [[nodiscard]] const protocol::Envelope& reply_envelope(std::string_view agent_id);
  // Decoded messages are reused: a BATCH decodes into the buffers of one whose storage
  // completed, so the steady state allocates nothing per batch for decoding.
  [[nodiscard]] protocol::Message take_message() noexcept;
  void recycle(protocol::Message&& message) noexcept;
  void reply(const std::string& peer, const std::string& frame) noexcept;
  [[nodiscard]] Result<void> send_frame(const std::string& agent_id, const std::string& frame);
  void reply_error(const std::string& peer, const std::string& agent_id,
                   std::optional<std::uint64_t> ref_seq, std::string_view code,
                   std::string message) noexcept;
  void complain(std::string_view what, const std::string& peer, std::string_view detail) noexcept;

  uv_loop_t& m_loop;
  zmq::context_t& m_context;
  const Clock& m_clock;
  const ZapHandler& m_zap;
  uv::Worker& m_storage_worker;
  storage::Store& m_store;
  IngestListener* m_listener = nullptr;
  IngestSettings m_settings;
  std::unique_ptr<zmq::socket_t> m_socket;
  std::unique_ptr<uv::ZmqWatcher> m_watcher;
  uv_timer_t m_rebind_timer{};
  int m_rebind_attempts = 0;
  bool m_receiving = false;
  std::string m_endpoint;
  std::string m_reply_frame;
  protocol::Envelope m_reply_envelope;
  std::uint64_t m_next_seq = 1;
  // Agents heard from since this coordinator started; the first BATCH of one that has not sent
  // HELLO gets "hello-required". Bounded by the enrolled keys, which ZAP enforces.
  std::unordered_map<std::string, Peer> m_peers;
  std::unordered_set<std::string> m_greeted;
  struct PendingBatch {
    std::string peer;
    protocol::Message message;
    std::int64_t received_ms;
  };
  std::vector<PendingBatch> m_pending;  // decoded, not yet handed to storage
  std::vector<PendingBatch> m_spare_pending; // an emptied group's vector, for its capacity
  // Messages whose batches were stored, kept for their buffers: as many as can be in flight
  // (the storage queue, at most k_max_spare_messages), holding at most k_max_spare_bytes in all.
  static constexpr std::size_t k_max_spare_messages = 4096;
  static constexpr std::size_t k_max_spare_bytes = 16 * 1024 * 1024;
  struct SpareMessage {
    protocol::Message message;
    std::size_t bytes = 0; // what its buffers hold, as recycle() estimated it
  };
  std::vector<SpareMessage> m_spare_messages;
  std::size_t m_spare_limit = 0; // messages
  std::size_t m_spare_bytes = 0;
  std::size_t m_batches_in_storage = 0; // handed over, not yet stored
  static constexpr std::size_t k_max_store_jobs = 2;
  std::size_t m_store_jobs = 0; // groups handed over, not yet stored
  IngestCounters m_counters;
  metrics::Histogram* m_store_latency = nullptr; // observed on the storage worker's thread
  log::RateLimiter m_log_limit{10, 10'000};
};

} // namespace medic::coordinator::server
