// SPDX-License-Identifier: Apache-2.0
#include "coordinator/service/storage_housekeeping.hpp"

#include <limits>

#include <spdlog/spdlog.h>

namespace medic::coordinator::service {

namespace {

// Retention steps per job: each deletes at most max_rows_per_call rows a table.
constexpr int k_retention_steps = 8;
// Between retention jobs while a backlog of old rows is deleted.
constexpr std::int64_t k_retention_catch_up_ms = 15'000;

} // namespace

StorageHousekeeping::StorageHousekeeping(uv_loop_t& loop, const Clock& clock, uv::Worker& worker,
                                         storage::Store& store, HousekeepingSettings settings)
    : m_clock(clock), m_worker(worker), m_store(store), m_settings(settings) {
  uv_timer_init(&loop, &m_timer);
  m_timer.data = this;
  m_open = true;
}

void StorageHousekeeping::start() {
  // The first retention run a minute after start, not during start-up's rush.
  m_next_retention_ms = m_clock.now_unix_ms() + 60'000;
  const auto every = static_cast<std::uint64_t>(m_settings.flush_every.count());
  uv_timer_start(&m_timer, &StorageHousekeeping::on_timer, every, every);
}

void StorageHousekeeping::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<StorageHousekeeping*>(timer->data);
  self->run(self->m_clock.now_unix_ms());
}

void StorageHousekeeping::run(std::int64_t now_ms) noexcept {
  if (m_busy) {
    return; // the last one is still at work (a slow database): skip a turn
  }
  const bool retention = now_ms >= m_next_retention_ms;
  const std::int64_t closed_before = now_ms - m_settings.late_grace.count();
  struct Outcome {
    Result<storage::RollupFlush> flush = storage::RollupFlush{};
    Result<storage::RetentionOutcome> retention = storage::RetentionOutcome{};
    bool retention_ran = false;
  };
  auto job = [this, now_ms, retention, closed_before]() -> uv::Worker::Completion {
    auto outcome = std::make_shared<Outcome>();
    outcome->flush = m_store.flush_rollups(closed_before);
    if (retention) {
      outcome->retention_ran = true;
      storage::RetentionOutcome total;
      for (int step = 0; step < k_retention_steps; ++step) {
        auto one = m_store.apply_retention(m_settings.retention, now_ms);
        if (!one) {
          outcome->retention = std::move(one);
          break;
        }
        total.deleted += one->deleted;
        total.more = one->more;
        outcome->retention = total;
        if (!one->more) {
          break;
        }
      }
    }
    return [this, outcome, now_ms] {
      m_busy = false;
      if (outcome->flush) {
        ++m_counters.flushes;
        m_counters.minute_rows += outcome->flush->minute_rows;
        m_counters.hours += outcome->flush->hours;
        m_counters.open_buckets = outcome->flush->open_buckets;
        m_counters.rollup_dropped = outcome->flush->dropped;
      } else {
        ++m_counters.failures;
        spdlog::error("storage: writing roll-ups: {}", outcome->flush.error().message());
      }
      if (!outcome->retention_ran) {
        return;
      }
      if (!outcome->retention) {
        ++m_counters.failures;
        spdlog::error("storage: retention: {}", outcome->retention.error().message());
        m_next_retention_ms = now_ms + m_settings.retention_every.count();
        return;
      }
      ++m_counters.retention_runs;
      m_counters.rows_deleted += outcome->retention->deleted;
      if (outcome->retention->deleted > 0) {
        spdlog::info("storage: retention deleted {} rows{}", outcome->retention->deleted,
                     outcome->retention->more ? "; more next turn" : "");
      }
      // More to delete: go on 15 s later instead of waiting an hour (not at the next flush,
      // a quarter of a second away: a large backlog would then hold the storage worker
      // continuously).
      m_next_retention_ms =
          now_ms +
          (outcome->retention->more ? k_retention_catch_up_ms : m_settings.retention_every.count());
    };
  };
  if (m_worker.try_submit(std::move(job))) {
    m_busy = true;
  }
}

void StorageHousekeeping::close() noexcept {
  if (!m_open) {
    return;
  }
  m_open = false;
  uv_timer_stop(&m_timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), nullptr);
  // Every open minute, also the one not ended yet: a batch for it after a restart merges in.
  const bool queued = m_worker.try_submit([this]() -> uv::Worker::Completion {
    auto flushed = m_store.flush_rollups(std::numeric_limits<std::int64_t>::max());
    if (!flushed) {
      spdlog::error("storage: writing the last roll-ups: {}", flushed.error().message());
    }
    return [] {};
  });
  if (!queued) {
    spdlog::warn("storage: the last minute roll-ups were not written (storage queue full)");
  }
}

} // namespace medic::coordinator::service
