// SPDX-License-Identifier: Apache-2.0
// WAL checkpoints off the writing thread. SQLite's automatic checkpoint runs inside the commit
// that crosses wal_autocheckpoint pages: the writer copies the WAL into the database file and
// fsyncs both, and whatever waits on that writer (the coordinator's batch acks) waits too. This
// replaces it: the writer's commit only notes the WAL's size, and a thread with its own
// connection runs PASSIVE checkpoints, which never block the writer (WAL lets a checkpoint and
// a writer run at once).
//
// A WAL starts over from its beginning only when a checkpoint has copied every frame in it, and
// a writer that commits while the thread copies always leaves a few behind: under steady load
// the file would grow without end. So after each pass of the thread the writer copies the
// remainder itself at its next commit (what it committed during the pass: a short copy), and
// the commit after that starts the WAL over.
//
// A backstop keeps the WAL bounded should the thread fall behind (a long-lived reader pinning old
// frames): past `inline_after_pages` the writer checkpoints at every commit, as SQLite would.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "shared/sqlite/database.hpp"

namespace medic::sqlite {

struct CheckpointSettings {
  int after_pages = 2048;           // wake the thread once the WAL holds this many pages
  int inline_after_pages = 262'144; // 1 GiB of 4 KiB pages: the writer checkpoints itself
};

struct CheckpointCounters {
  std::uint64_t runs = 0;          // checkpoints the thread ran
  std::uint64_t busy = 0;          // ... that could not run (SQLITE_BUSY)
  std::uint64_t catch_ups = 0;     // remainders the writer copied after a pass of the thread
  std::uint64_t inline_runs = 0;   // checkpoints the writer ran itself (backstop)
  std::uint64_t frames_copied = 0; // WAL frames copied back by the thread
};

class WalCheckpointer {
public:
  // Opens a second connection to `writer`'s file, hooks `writer`'s commits and starts the
  // thread. `writer` must outlive this object and stay on one thread (its own).
  [[nodiscard]] static Result<std::unique_ptr<WalCheckpointer>> start(Database& writer,
                                                                      CheckpointSettings settings);
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;
  // Unhooks the writer, then stops and joins the thread (a running checkpoint finishes first).
  ~WalCheckpointer();

  [[nodiscard]] CheckpointCounters counters() const;

private:
  WalCheckpointer(Database& writer, Database own, CheckpointSettings settings);
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages) noexcept;
  void run() noexcept;

  Database& m_writer;
  Database m_own; // the thread's connection
  CheckpointSettings m_settings;
  // idle -> passing (the writer asked for a pass, or the thread's idle check) -> catch_up (the
  // pass copied every frame it saw: the writer copies the rest at its next commit) -> idle.
  // The writer asks for nothing while a pass or a catch-up is due, so the two never collide.
  enum class Phase : int { idle, passing, catch_up };
  std::atomic<Phase> m_phase{Phase::idle};
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  CheckpointCounters m_counters;
  std::thread m_thread; // last: starts when everything above exists
};

} // namespace medic::sqlite
