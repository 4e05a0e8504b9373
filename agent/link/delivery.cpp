// SPDX-License-Identifier: Apache-2.0
#include "agent/link/delivery.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "shared/uv/handle.hpp"

namespace medic::agent::link {

namespace {

constexpr std::size_t k_read_bytes = 4 << 20; // per spool read when (re)sending
constexpr std::int64_t k_expire_every_ms = 60'000;
// Appends and state writes gathered in one loop turn before they are committed at once anyway.
constexpr std::size_t k_max_group_changes = 64;
// Acks wait for the next group this long, or until this many are waiting, at most.
constexpr std::int64_t k_ack_linger_ms = 10'000;
constexpr std::size_t k_max_acked = 256;

} // namespace

Delivery::Delivery(uv_loop_t& loop, const Clock& clock, Spool spool, DeliverySettings settings,
                   SendFrame send)
    : m_clock(clock),
      m_spool(std::move(spool)),
      m_settings(settings),
      m_send(std::move(send)),
      m_worker(loop, "medic-spool", settings.worker_queue),
      m_stats(m_spool.stats()),
      m_next_seq(m_spool.next_seq()) {
  uv_idle_init(&loop, &m_commit_idle);
  m_commit_idle.data = this;
}

Delivery::~Delivery() {
  stop();
}

void Delivery::submit(std::uint64_t seq, SpoolClass kind, std::uint32_t items, std::string frame,
                      SpoolWrite also) {
  ++m_counters.submitted;
  if (m_stopped) {
    ++m_counters.lost_queue_full;
    spdlog::error("delivery stopped: batch {} is lost", seq);
    return;
  }
  m_group.changes.push_back(
      {SpoolAppend{seq, kind, items, m_clock.now_unix_ms(), std::move(frame)}, std::move(also)});
  commit_soon();
}

bool Delivery::save_state(SpoolWrite write) {
  if (m_stopped || m_worker.queued() >= m_worker.capacity()) {
    return false;
  }
  m_group.changes.push_back({std::nullopt, std::move(write)});
  commit_soon();
  return true;
}

void Delivery::commit_soon() noexcept {
  if (m_group.changes.size() >= k_max_group_changes || m_group.acked.size() >= k_max_acked) {
    commit_now();
    return;
  }
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&m_commit_idle)) == 0) {
    uv_idle_start(&m_commit_idle, &Delivery::on_idle);
  }
}

void Delivery::on_idle(uv_idle_t* idle) noexcept {
  static_cast<Delivery*>(idle->data)->commit_now();
}

void Delivery::commit_now() noexcept {
  if (m_stopped) {
    return;
  }
  uv_idle_stop(&m_commit_idle);
  if (m_group.empty()) {
    return;
  }
  std::uint64_t appends = 0;
  for (const auto& change : m_group.changes) {
    appends += change.batch ? 1 : 0;
  }
  SpoolGroup group = std::move(m_group);
  m_group = SpoolGroup{};
  m_first_ack_ms = 0;
  const bool queued =
      m_worker.try_submit([this, group = std::move(group)]() mutable -> uv::Worker::Completion {
        auto outcome = m_spool.commit(group);
        const std::uint64_t commits = m_spool.commits();
        // The frames just written go back to the loop with the outcome, so that it can send
        // them without reading them back from the spool (see send_committed).
        std::vector<Committed> committed;
        if (outcome && outcome->refused == 0) {
          for (auto& change : group.changes) {
            if (change.batch) {
              committed.push_back({change.batch->seq, std::move(change.batch->frame)});
            }
          }
        }
        return [this, outcome = std::move(outcome), commits,
                committed = std::move(committed)]() mutable {
          m_counters.spool_commits = commits;
          if (!outcome) {
            ++m_counters.spool_errors;
            spdlog::error("spooling: {}", outcome.error().message());
            return;
          }
          m_stats = outcome->stats;
          if (outcome->refused > 0) {
            m_counters.spool_errors += outcome->refused;
            spdlog::error(
                "spooling: {} batches larger than the spool's limit of bytes were dropped",
                outcome->refused);
          }
          send_committed(committed);
          pump();
        };
      });
  if (!queued) {
    m_counters.lost_queue_full += appends;
    spdlog::error("spool worker is {} jobs behind: {} batches and their state are lost",
                  m_worker.queued(), appends);
  }
}

void Delivery::update(const Result<SpoolStats>& stats, std::string_view what) {
  if (stats) {
    m_stats = *stats;
    return;
  }
  ++m_counters.spool_errors;
  spdlog::error("{}: {}", what, stats.error().message());
}

void Delivery::on_ack(std::uint64_t seq) {
  ++m_counters.acked;
  const auto it = std::find_if(m_in_flight.begin(), m_in_flight.end(),
                               [seq](const InFlight& f) { return f.seq == seq; });
  if (it != m_in_flight.end()) {
    m_in_flight.erase(it);
  }
  // Removed even when not in flight (an ack of an earlier send): it is stored either way. It
  // waits for the next group's transaction (see the class comment).
  if (!m_stopped) {
    if (m_group.acked.empty()) {
      m_first_ack_ms = m_clock.monotonic_ms();
    }
    m_group.acked.push_back(seq);
    if (m_group.acked.size() >= k_max_acked) {
      commit_soon();
    }
  }
  pump();
}

void Delivery::on_link_up() {
  commit_now(); // acked batches leave the spool before it is read for the resend
  m_up = true;
  ++m_epoch;
  m_in_flight.clear();
  m_sent_through = 0;
  m_pump_pending = false;
  pump();
}

void Delivery::on_link_down() {
  m_up = false;
  ++m_epoch;
  m_in_flight.clear();
  m_pump_pending = false;
}

void Delivery::tick() {
  const std::int64_t now_ms = m_clock.monotonic_ms();
  if (m_up && !m_in_flight.empty() &&
      now_ms - m_in_flight.front().sent_ms >= m_settings.ack_timeout.count()) {
    // Resend from the oldest unacked; the coordinator dedups what it already has.
    m_counters.resent += m_in_flight.size();
    m_sent_through = m_in_flight.front().seq - 1;
    m_in_flight.clear();
    ++m_epoch;
    m_pump_pending = false;
  }
  if (!m_group.acked.empty() && now_ms - m_first_ack_ms >= k_ack_linger_ms) {
    commit_soon();
  }
  if (now_ms - m_last_expire_ms >= k_expire_every_ms) {
    m_last_expire_ms = now_ms;
    const std::int64_t wall_ms = m_clock.now_unix_ms();
    (void)m_worker.try_submit([this, wall_ms]() -> uv::Worker::Completion {
      auto stats = m_spool.expire(wall_ms);
      return [this, stats = std::move(stats)] { update(stats, "expiring old batches"); };
    });
  }
  pump();
}

void Delivery::send_committed(std::vector<Committed>& batches) {
  // The usual case: the link is up, no resend is under way, and everything spooled before
  // these was sent. Else pump() reads them from the spool in their turn.
  const std::int64_t now_ms = m_clock.monotonic_ms();
  for (auto& batch : batches) {
    // Batches below the oldest held were acked and removed: as good as sent.
    const std::uint64_t sent_through =
        m_stats.batches > 0 ? std::max(m_sent_through, m_stats.first_seq - 1) : m_sent_through;
    if (!m_up || m_pump_pending || m_in_flight.size() >= m_settings.window ||
        batch.seq != sent_through + 1 || !m_send(batch.frame)) {
      return;
    }
    ++m_counters.sent;
    m_in_flight.push_back({batch.seq, now_ms});
    m_sent_through = batch.seq;
  }
}

void Delivery::pump() {
  if (!m_up || m_pump_pending || m_in_flight.size() >= m_settings.window) {
    return;
  }
  if (m_stats.last_seq <= m_sent_through || m_stats.batches == 0) {
    return; // nothing spooled beyond what is in flight
  }
  const std::size_t room = m_settings.window - m_in_flight.size();
  const std::uint64_t after = m_sent_through;
  const std::uint64_t epoch = m_epoch;
  m_pump_pending = true;
  ++m_counters.spool_reads;
  const bool queued = m_worker.try_submit([this, after, room, epoch]() -> uv::Worker::Completion {
    auto batches = m_spool.read_after(after, room, k_read_bytes);
    return [this, epoch, room, batches = std::move(batches)]() mutable {
      on_read(epoch, std::move(batches), room);
    };
  });
  if (!queued) {
    m_pump_pending = false; // retried on the next tick
  }
}

void Delivery::on_read(std::uint64_t epoch, Result<std::vector<SpooledBatch>> batches,
                       std::size_t asked) {
  if (epoch != m_epoch) {
    return; // the link went down or a resend started since this read was asked for
  }
  m_pump_pending = false;
  if (!batches) {
    ++m_counters.spool_errors;
    spdlog::error("reading the spool: {}", batches.error().message());
    return;
  }
  const std::int64_t now_ms = m_clock.monotonic_ms();
  for (const auto& batch : *batches) {
    if (!m_up || !m_send(batch.frame)) {
      return; // the socket cannot take it now; the next tick tries again
    }
    ++m_counters.sent;
    m_in_flight.push_back({batch.seq, now_ms});
    m_sent_through = batch.seq;
  }
  if (batches->size() == asked) {
    pump();
  }
}

void Delivery::stop() noexcept {
  if (m_stopped) {
    return;
  }
  commit_now();
  m_stopped = true;
  m_worker.stop();
  uv::close_handle(m_commit_idle);
}

} // namespace medic::agent::link
