// SPDX-License-Identifier: Apache-2.0
// The agent's durable, bounded batch spool: every encoded BATCH frame is stored here before it is
// sent and removed only when the coordinator acks its sequence number, so a crash or a partition
// loses nothing that reached the spool. One SQLite file in WAL mode. Bounded in bytes and in
// age; over a bound it drops the oldest sample batches first and event batches (signals, log
// events, action reports) only when no sample batch is left, and counts every drop persistently.
//
// Durability: commits survive a crash of the agent process, and a power loss or kernel crash
// too: Spool::open sets synchronous=FULL (Database::open's default is NORMAL), so a committed
// batch and the next sequence number are on disk before the batch is sent (see spool.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"
#include "shared/sqlite/database.hpp"

namespace medic::agent::link {

enum class SpoolClass : std::uint8_t { samples = 0, events = 1 };

struct SpoolLimits {
  std::uint64_t max_bytes = 64ULL << 20;                     // sum of frame sizes held
  std::chrono::milliseconds max_age{7LL * 24 * 3600 * 1000}; // enforced by expire()
};

// More writes to commit atomically with a spool change (e.g. the log tailer's cursors, so that a
// batch of log events and the file offsets it reached are durable together). Runs on the spool
// worker thread inside the spool's open transaction; an error rolls the whole change back.
using SpoolWrite = std::function<Result<void>(sqlite::Database&)>;

struct SpooledBatch {
  std::uint64_t seq = 0;
  SpoolClass kind = SpoolClass::samples;
  std::uint32_t items = 0;
  std::int64_t created_ms = 0;
  std::string frame;
};

// One batch to store (see Spool::append).
struct SpoolAppend {
  std::uint64_t seq = 0;
  SpoolClass kind = SpoolClass::samples;
  std::uint32_t items = 0;
  std::int64_t created_ms = 0;
  std::string frame;
};

// A batch with the writes that commit with it, or (no batch) a state write on its own.
struct SpoolChange {
  std::optional<SpoolAppend> batch;
  SpoolWrite also;
};

// Everything one Spool::commit() does in one transaction: removes the acked batches, then
// applies the changes in their order (so a later cursor write wins over an earlier one).
struct SpoolGroup {
  std::vector<std::uint64_t> acked;
  std::vector<SpoolChange> changes;
  [[nodiscard]] bool empty() const noexcept { return acked.empty() && changes.empty(); }
};

struct SpoolStats {
  std::uint64_t batches = 0, bytes = 0;      // held now (bytes = sum of frame sizes)
  std::uint64_t first_seq = 0, last_seq = 0; // 0 when empty
  // Cumulative since the spool file was created, persisted.
  std::uint64_t dropped_batches = 0, dropped_items = 0, dropped_bytes = 0;
  friend bool operator==(const SpoolStats&, const SpoolStats&) = default;
};

// Not thread-safe: used from one thread (the agent's spool worker thread), never from the loop,
// since every call but next_seq() and stats() does disk I/O.
class Spool {
public:
  // Opens or creates the spool at `path` (and its directory). Fails, naming the path, on a file
  // that is not SQLite, a SQLite database that is not a medic spool, a corrupt spool, a spool
  // from a newer medic, or limits of zero.
  // `first_seq` numbers the first batch of a spool that has never held one. The agent passes the
  // wall clock in ms: a spool that was lost or deleted and created again must not reuse numbers
  // the coordinator already stored (it would discard the new batches as duplicates), and a
  // clock that moved forward is above every number an earlier spool could have reached at one
  // batch per 100 ms or slower.
  [[nodiscard]] static Result<Spool> open(const std::filesystem::path& path, SpoolLimits limits,
                                          std::uint64_t first_seq = 1);

  Spool(Spool&& other) noexcept;
  Spool& operator=(Spool&& other) noexcept;
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  ~Spool();

  // The sequence number the next batch must use: one more than the highest ever appended (or
  // refused), persisted, so it continues across restarts even when the spool is empty (the
  // coordinator dedups by (agent, seq), so a restarted agent must never reuse a number).
  // Starts at 1. Deleting the spool file resets it.
  [[nodiscard]] std::uint64_t next_seq() const noexcept { return m_next_seq; }

  // Stores one batch durably, in one transaction with the drops it causes. `seq` must be
  // >= next_seq() and <= INT64_MAX (else invalid_argument); next_seq becomes seq + 1. Over
  // max_bytes, drops the oldest sample batches, then the oldest event batches, never the batch
  // just appended. A frame larger than max_bytes on its own is refused with ErrorCode::busy and
  // counted as dropped (its seq is used up all the same). Age is left to expire().
  // `also`, when given, commits in the same transaction; when the frame is refused it still
  // commits (with the drop), so state that moved past the refused batch is not replayed.
  [[nodiscard]] Result<SpoolStats> append(std::uint64_t seq, SpoolClass kind, std::uint32_t items,
                                          std::int64_t created_ms, std::string_view frame,
                                          const SpoolWrite& also = {});

  // What commit() did: the stats after it, and the batches it refused as larger than max_bytes
  // (counted as dropped, their seq used up, as append() does).
  struct GroupOutcome {
    SpoolStats stats;
    std::uint32_t refused = 0;
  };
  // The whole group in one transaction (one fsync): removes, appends with the drops they cause,
  // and writes, with append()'s rules for each batch; the batches' seqs must rise. On any error
  // nothing of the group is kept. A group that changes nothing commits nothing.
  [[nodiscard]] Result<GroupOutcome> commit(const SpoolGroup& group);

  // Transactions committed since open (each one fsync), for tests and the footprint.
  [[nodiscard]] std::uint64_t commits() const noexcept { return m_commits; }

  // Runs `write` in a transaction of its own (state that moved without a batch to carry it).
  [[nodiscard]] Result<void> write_state(const SpoolWrite& write);

  // The connection, for reading state at start-up before the spool is handed to its worker.
  [[nodiscard]] sqlite::Database& database() noexcept { return m_db; }

  // The coordinator acked `seq`: removes that batch if held. An unknown seq is not an error
  // (acks repeat after a resend).
  [[nodiscard]] Result<SpoolStats> remove(std::uint64_t seq);

  // The oldest held batches with seq > after_seq, in seq order: at most max_batches of them and
  // at most max_bytes of frames, but at least one if any exists, so a caller always progresses.
  [[nodiscard]] Result<std::vector<SpooledBatch>> read_after(std::uint64_t after_seq,
                                                             std::size_t max_batches,
                                                             std::size_t max_bytes);

  // Drops every batch with created_ms < now_ms - max_age, whatever its class, counted as
  // dropped.
  [[nodiscard]] Result<SpoolStats> expire(std::int64_t now_ms);

  // Kept in memory, updated only after a commit, so exact.
  [[nodiscard]] SpoolStats stats() const noexcept { return m_stats; }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return m_db.path(); }

private:
  struct Statements {
    sqlite::Statement insert;
    sqlite::Statement measure; // what removing one seq takes away
    sqlite::Statement remove;
    sqlite::Statement oldest; // of one class, sparing one seq
    sqlite::Statement select_after;
    sqlite::Statement measure_older;
    sqlite::Statement delete_older;
    sqlite::Statement seq_bounds;
    sqlite::Statement write_next_seq;
    sqlite::Statement write_counter; // one of the drop counters
  };
  struct Removed {
    std::uint64_t batches = 0, items = 0, bytes = 0;
  };
  enum class Removal { acked, dropped };

  Spool(sqlite::Database db, Statements statements, SpoolLimits limits);

  [[nodiscard]] static Result<Statements> prepare_statements(sqlite::Database& db);
  [[nodiscard]] Result<Removed> remove_seq(std::uint64_t seq);
  [[nodiscard]] Result<Removed> remove_older(std::int64_t cutoff_ms);
  [[nodiscard]] static Result<Removed> measure_and_delete(sqlite::Statement& measure,
                                                          sqlite::Statement& remove);
  [[nodiscard]] Result<void> load_state();
  template <class Change>
  [[nodiscard]] Result<SpoolStats> transact(std::string_view what, Change change);
  [[nodiscard]] Result<void> store(std::uint64_t seq, SpoolClass kind, std::uint32_t items,
                                   std::int64_t created_ms, std::string_view frame);
  [[nodiscard]] Result<void> check_group(const SpoolGroup& group) const;
  [[nodiscard]] Result<bool> apply(const SpoolGroup& group, SpoolStats& next,
                                   std::uint32_t& refused);
  [[nodiscard]] Result<bool> apply_batch(const SpoolAppend& batch, SpoolStats& next,
                                         std::uint32_t& refused);
  [[nodiscard]] Result<SpoolStats> refuse(std::uint64_t seq, std::uint32_t items, std::size_t size,
                                          std::string_view what, const SpoolWrite& also);
  [[nodiscard]] Result<Removed> drop_over_limit(std::uint64_t keep_seq, SpoolClass incoming,
                                                std::uint64_t bytes);
  [[nodiscard]] Result<Removed> drop_oldest(SpoolClass kind, std::uint64_t keep_seq);
  template <class Remove>
  [[nodiscard]] Result<SpoolStats> delete_with(Removal why, std::string_view what, Remove remove);
  [[nodiscard]] Result<bool> record_removal(SpoolStats& next, const Removed& removed, Removal why);
  [[nodiscard]] Result<void> write_next_seq(std::uint64_t next_seq);
  [[nodiscard]] Result<void> write_drops(const SpoolStats& stats);
  [[nodiscard]] Result<void> refresh_bounds(SpoolStats& stats);
  [[nodiscard]] Error located(Error error, std::string_view what) const;

  // Declared before the statements so that they are finalized before the connection closes.
  sqlite::Database m_db;
  Statements m_statements;
  SpoolLimits m_limits;
  SpoolStats m_stats;
  std::uint64_t m_next_seq = 1;
  std::uint64_t m_commits = 0;
};

} // namespace medic::agent::link
