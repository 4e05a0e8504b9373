// SPDX-License-Identifier: Apache-2.0
// At-least-once delivery of batches: each batch goes to the spool (on the spool worker thread)
// before it is sent, leaves it only when acked, and is sent in seq order from the spool, so a
// crash, a coordinator restart or a partition loses nothing. Only sequence numbers of the
// in-flight window stay in memory; a batch is sent from memory right after its commit when
// everything before it was sent, and otherwise re-read from the spool when it is (re)sent, so
// memory stays flat however long the coordinator is away. Loop thread only.
//
// Group commit: what is submitted in one loop turn (e.g. the samples and the events batch of one
// flush, with the tail cursors) goes to the spool as one transaction, and acks (removals) do not
// get a transaction of their own: they ride with the next group, or go on their own after
// k_ack_linger or when k_max_acked are waiting. An acked batch still in the spool after a crash
// is sent again and deduplicated by the coordinator; nothing is sent before it is committed.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "agent/link/spool.hpp"
#include "shared/clock.hpp"
#include "shared/uv/worker.hpp"

namespace medic::agent::link {

struct DeliverySettings {
  std::size_t window = 16;                       // batches sent and not yet acked
  std::chrono::milliseconds ack_timeout{10'000}; // resend when unacked this long
  std::size_t worker_queue = 256;                // spool jobs waiting
};

struct DeliveryCounters {
  std::uint64_t submitted = 0;
  std::uint64_t sent = 0; // sends, resends included
  std::uint64_t resent = 0;
  std::uint64_t acked = 0;
  std::uint64_t spool_errors = 0;
  std::uint64_t lost_queue_full = 0; // could not even reach the spool (worker queue full)
  std::uint64_t spool_commits = 0;   // transactions (fsyncs) of the spool, as last reported
  std::uint64_t spool_reads = 0;     // reads of spooled batches to (re)send them
};

class Delivery {
public:
  // Returns false when the frame could not be handed to the socket now (it stays spooled).
  using SendFrame = std::function<bool(std::string_view frame)>;

  Delivery(uv_loop_t& loop, const Clock& clock, Spool spool, DeliverySettings settings,
           SendFrame send);
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;
  ~Delivery();

  // The seq the next batch must carry; never reused, across restarts too.
  [[nodiscard]] std::uint64_t take_seq() noexcept { return m_next_seq++; }
  // Spools the frame (with `also` in the same transaction, see SpoolWrite), then sends it.
  void submit(std::uint64_t seq, SpoolClass kind, std::uint32_t items, std::string frame,
              SpoolWrite also = {});
  // Commits `write` to the spool database with, or after, everything submitted before it. False
  // when the spool worker's queue is full (nothing is written; the caller tries again later).
  [[nodiscard]] bool save_state(SpoolWrite write);
  void on_ack(std::uint64_t seq);
  // The coordinator answered again: resend everything unacked, oldest first.
  void on_link_up();
  // The coordinator went silent: stop sending; everything stays in the spool.
  void on_link_down();
  // Call periodically (e.g. with heartbeats): ack timeouts and spool expiry.
  void tick();
  // Drains the spool worker (what is queued gets written) and stops it. Shutdown only.
  void stop() noexcept;
  // Hands what this loop turn gathered (and any waiting acks) to the spool worker now, as one
  // transaction, instead of at the end of the loop turn.
  void commit_now() noexcept;

  [[nodiscard]] const SpoolStats& spool_stats() const noexcept { return m_stats; }
  [[nodiscard]] const DeliveryCounters& counters() const noexcept { return m_counters; }

private:
  static void on_idle(uv_idle_t* idle) noexcept;
  void commit_soon() noexcept;
  void pump();
  void on_read(std::uint64_t epoch, Result<std::vector<SpooledBatch>> batches, std::size_t asked);
  void update(const Result<SpoolStats>& stats, std::string_view what);
  struct Committed {
    std::uint64_t seq;
    std::string frame;
  };
  // Sends batches just committed from memory, in order, while nothing before them is unsent.
  void send_committed(std::vector<Committed>& batches);

  const Clock& m_clock;
  Spool m_spool; // touched only by jobs on m_worker
  DeliverySettings m_settings;
  SendFrame m_send;
  uv::Worker m_worker;
  uv_idle_t m_commit_idle{};       // runs commit_now() once at the end of the loop turn
  SpoolGroup m_group;              // gathered on the loop, committed as one transaction
  std::int64_t m_first_ack_ms = 0; // monotonic, when the oldest ack in m_group arrived
  SpoolStats m_stats;              // the latest the worker reported
  std::uint64_t m_next_seq;
  struct InFlight {
    std::uint64_t seq;
    std::int64_t sent_ms; // monotonic
  };
  std::deque<InFlight> m_in_flight; // at most settings.window entries
  std::uint64_t m_sent_through = 0; // highest seq sent since the link came up
  std::uint64_t m_epoch = 0;        // bumped on every resend decision; stale reads are ignored
  bool m_up = false;
  bool m_pump_pending = false;
  std::int64_t m_last_expire_ms = 0;
  bool m_stopped = false;
  DeliveryCounters m_counters;
};

} // namespace medic::agent::link
