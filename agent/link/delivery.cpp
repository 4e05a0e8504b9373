// SPDX-License-Identifier: Apache-2.0
#include "agent/link/delivery.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace medic::agent::link {

namespace {

constexpr std::size_t k_read_bytes = 4 << 20; // per spool read when (re)sending
constexpr std::int64_t k_expire_every_ms = 60'000;

} // namespace

Delivery::Delivery(uv_loop_t& loop, const Clock& clock, Spool spool, DeliverySettings settings,
                   SendFrame send)
    : m_clock(clock),
      m_spool(std::move(spool)),
      m_settings(settings),
      m_send(std::move(send)),
      m_worker(loop, "medic-spool", settings.worker_queue),
      m_stats(m_spool.stats()),
      m_next_seq(m_spool.next_seq()) {}

void Delivery::submit(std::uint64_t seq, SpoolClass kind, std::uint32_t items, std::string frame,
                      SpoolWrite also) {
  ++m_counters.submitted;
  const std::int64_t now_ms = m_clock.now_unix_ms();
  const bool queued = m_worker.try_submit([this, seq, kind, items, now_ms, frame = std::move(frame),
                                           also = std::move(also)]() -> uv::Worker::Completion {
    auto stats = m_spool.append(seq, kind, items, now_ms, frame, also);
    return [this, stats = std::move(stats)] {
      update(stats, "spooling a batch");
      pump();
    };
  });
  if (!queued) {
    ++m_counters.lost_queue_full;
    spdlog::error("spool worker is {} jobs behind: batch {} is lost", m_worker.queued(), seq);
  }
}

bool Delivery::save_state(SpoolWrite write) {
  return m_worker.try_submit([this, write = std::move(write)]() -> uv::Worker::Completion {
    auto written = m_spool.write_state(write);
    return [this, written = std::move(written)] {
      if (!written) {
        ++m_counters.spool_errors;
        spdlog::error("{}", written.error().message());
      }
    };
  });
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
  // Removed even when not in flight (an ack of an earlier send): it is stored either way.
  (void)m_worker.try_submit([this, seq]() -> uv::Worker::Completion {
    auto stats = m_spool.remove(seq);
    return [this, stats = std::move(stats)] { update(stats, "removing an acked batch"); };
  });
  pump();
}

void Delivery::on_link_up() {
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
  m_worker.stop();
}

} // namespace medic::agent::link
