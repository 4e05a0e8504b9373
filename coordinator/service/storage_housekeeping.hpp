// SPDX-License-Identifier: Apache-2.0
// The storage's periodic work, on the storage worker: every flush interval the minute roll-ups
// whose minute closed (plus a grace for late batches) are written and whole hours rolled up;
// every retention interval what the retention policy no longer keeps is deleted, in bounded
// steps. At shutdown, before the worker drains, every open minute is written.
#pragma once

#include <chrono>
#include <cstdint>

#include <uv.h>

#include "coordinator/storage/store.hpp"
#include "shared/clock.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::service {

struct HousekeepingSettings {
  storage::RetentionPolicy retention;
  // Often, because each flush writes a bounded number of rows (storage keeps the rest for the
  // next one): the batches queued behind a flush wait tens of ms, never seconds.
  std::chrono::milliseconds flush_every{250};
  std::chrono::milliseconds retention_every{3'600'000};
  std::chrono::milliseconds late_grace{30'000}; // a minute is written this long after it ends
};

struct HousekeepingCounters {
  std::uint64_t flushes = 0;
  std::uint64_t minute_rows = 0;
  std::uint64_t hours = 0;
  std::uint64_t retention_runs = 0;
  std::uint64_t rows_deleted = 0;
  std::uint64_t failures = 0;
  std::uint64_t open_buckets = 0;
  std::uint64_t rollup_dropped = 0;
};

class StorageHousekeeping {
public:
  StorageHousekeeping(uv_loop_t& loop, const Clock& clock, uv::Worker& worker,
                      storage::Store& store, HousekeepingSettings settings);
  StorageHousekeeping(const StorageHousekeeping&) = delete;
  StorageHousekeeping& operator=(const StorageHousekeeping&) = delete;

  void start();
  // Loop thread, before the worker stops: stops the timer and queues the final flush.
  void close() noexcept;
  [[nodiscard]] const HousekeepingCounters& counters() const noexcept { return m_counters; }

private:
  static void on_timer(uv_timer_t* timer) noexcept;
  void run(std::int64_t now_ms) noexcept;

  const Clock& m_clock;
  uv::Worker& m_worker;
  storage::Store& m_store;
  HousekeepingSettings m_settings;
  HousekeepingCounters m_counters;
  uv_timer_t m_timer{};
  bool m_open = false;
  bool m_busy = false; // a job is queued or running: never two at once
  std::int64_t m_next_retention_ms = 0;
};

} // namespace medic::coordinator::service
