// SPDX-License-Identifier: Apache-2.0
#include "shared/sqlite/wal_checkpointer.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include <sqlite3.h>

namespace medic::sqlite {

namespace {

// A checkpoint now and then even without a wake-up: the last commits before a quiet spell are
// copied back too, so a reader opening the file later finds a short WAL.
constexpr auto k_idle_check = std::chrono::seconds(5);
// Passes in a row at most before the writer is asked to copy the rest.
constexpr int k_max_passes = 4;

} // namespace

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(Database& writer,
                                                                CheckpointSettings settings) {
  auto own = Database::open(writer.path(), OpenMode::read_write_create);
  if (!own) {
    return fail(std::move(own).error().context("starting the WAL checkpoint thread"));
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(writer, std::move(*own), settings));
}

WalCheckpointer::WalCheckpointer(Database& writer, Database own, CheckpointSettings settings)
    : m_writer(writer), m_own(std::move(own)), m_settings(settings) {
  // Replaces the automatic checkpoint (which is itself a WAL hook) on the writer's connection.
  sqlite3_wal_hook(m_writer.m_db, &WalCheckpointer::on_commit, this);
  m_thread = std::thread([this] { run(); });
  pthread_setname_np(m_thread.native_handle(), "medic-ckpt");
}

WalCheckpointer::~WalCheckpointer() {
  // Back to SQLite's own automatic checkpoint for whatever the writer does after this.
  sqlite3_wal_autocheckpoint(m_writer.m_db, m_settings.after_pages);
  {
    const std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_one();
  m_thread.join();
}

CheckpointCounters WalCheckpointer::counters() const {
  const std::lock_guard lock(m_mutex);
  return m_counters;
}

int WalCheckpointer::on_commit(void* context, sqlite3* db, const char* schema, int pages) noexcept {
  auto* self = static_cast<WalCheckpointer*>(context);
  const Phase phase = self->m_phase.load(std::memory_order_acquire);
  const bool catch_up = phase == Phase::catch_up;
  if (catch_up || pages >= self->m_settings.inline_after_pages) {
    // After a pass: the frames committed during it, so that the next commit starts the WAL
    // over. Far behind: what SQLite's automatic checkpoint would have done.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (catch_up) {
      self->m_phase.store(Phase::idle, std::memory_order_release);
    }
    const std::lock_guard lock(self->m_mutex);
    ++(catch_up ? self->m_counters.catch_ups : self->m_counters.inline_runs);
    return SQLITE_OK;
  }
  Phase expected = Phase::idle;
  if (pages >= self->m_settings.after_pages &&
      self->m_phase.compare_exchange_strong(expected, Phase::passing, std::memory_order_acq_rel)) {
    {
      // Taken and released so that the wake-up cannot fall between the thread's check of the
      // phase and its wait.
      const std::lock_guard lock(self->m_mutex);
    }
    self->m_wake.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::run() noexcept {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    const bool woken = m_wake.wait_for(lock, k_idle_check, [this] {
      return m_stop || m_phase.load(std::memory_order_acquire) == Phase::passing;
    });
    if (m_stop) {
      break;
    }
    if (!woken) {
      // Quiet for a while: a pass anyway, unless the writer is about to catch up.
      Phase expected = Phase::idle;
      if (!m_phase.compare_exchange_strong(expected, Phase::passing, std::memory_order_acq_rel)) {
        continue;
      }
    }
    lock.unlock();
    // Passes until the frames the writer added during the last one are few: each copies only
    // what came during the one before, so what is left for the writer is short.
    int wal_frames = 0;
    int copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(m_own.m_db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames,
                                       &copied);
    int passes = 1;
    std::uint64_t frames_copied = static_cast<std::uint64_t>(copied > 0 ? copied : 0);
    while (rc == SQLITE_OK && copied == wal_frames && passes < k_max_passes) {
      const int seen = wal_frames;
      rc = sqlite3_wal_checkpoint_v2(m_own.m_db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames,
                                     &copied);
      ++passes;
      frames_copied += static_cast<std::uint64_t>(std::max(0, copied - seen));
      if (wal_frames - seen <= m_settings.after_pages / 8) {
        break;
      }
    }
    // Everything it saw copied: the writer's next commit copies what came meanwhile. Else
    // (busy, or a reader holding old frames) the writer asks again at a later commit.
    const bool complete = rc == SQLITE_OK && copied > 0 && copied == wal_frames;
    m_phase.store(complete ? Phase::catch_up : Phase::idle, std::memory_order_release);
    lock.lock();
    m_counters.runs += static_cast<std::uint64_t>(passes);
    m_counters.frames_copied += frames_copied;
    if (rc != SQLITE_OK) {
      ++m_counters.busy;
    }
  }
}

} // namespace medic::sqlite
