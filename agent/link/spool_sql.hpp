// SPDX-License-Identifier: Apache-2.0
// The spool's schema and statements, kept apart from the logic in spool.cpp.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

namespace medic::agent::link::spool_sql {

// "MDSP" in the SQLite header, so that opening some other SQLite database by mistake is refused
// instead of quietly gaining spool tables.
inline constexpr std::int64_t k_application_id = 0x4d445350;

// Sequence numbers live in a signed 64-bit column; beyond this they would not sort.
inline constexpr std::uint64_t k_max_seq = std::numeric_limits<std::int64_t>::max();

// The index on (kind, seq) finds the oldest batch of a class without a scan; the one on
// created_ms lets expire() touch only what it deletes.
inline constexpr std::string_view k_schema_v1 =
    "PRAGMA application_id = 1296323408;"
    "CREATE TABLE batches ("
    " seq INTEGER PRIMARY KEY,"
    " kind INTEGER NOT NULL CHECK (kind IN (0, 1)),"
    " items INTEGER NOT NULL CHECK (items BETWEEN 0 AND 4294967295),"
    " created_ms INTEGER NOT NULL,"
    " frame BLOB NOT NULL);"
    "CREATE INDEX batches_by_kind ON batches (kind, seq);"
    "CREATE INDEX batches_by_age ON batches (created_ms);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('next_seq', 1), ('dropped_batches', 0),"
    " ('dropped_items', 0), ('dropped_bytes', 0);";

static_assert(k_application_id == 1296323408, "k_schema_v1 spells the id out");

// length(frame) does not read a frame's overflow pages, so sizes are cheap to get. What a
// removal takes away is measured by a SELECT with the DELETE's own WHERE just before it, not by
// DELETE ... RETURNING: SQLite runs RETURNING as a trigger, which loads the whole old row (the
// frame too) into registers and opens a statement journal for the DELETE. For a 31 KB frame
// that was a 229 KB peak of transient memory instead of 2 KB, and a commit in a standalone loop
// took 65 us instead of 32-46; in the agent the heap grew past its trim threshold and was
// trimmed again at every commit.
inline constexpr std::string_view k_insert_sql =
    "INSERT INTO batches (seq, kind, items, created_ms, frame) VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr std::string_view k_measure_sql =
    "SELECT COUNT(*), COALESCE(SUM(items), 0), COALESCE(SUM(length(frame)), 0) FROM batches"
    " WHERE seq = ?1";
inline constexpr std::string_view k_remove_sql = "DELETE FROM batches WHERE seq = ?1";
inline constexpr std::string_view k_oldest_sql =
    "SELECT seq FROM batches WHERE kind = ?1 AND seq <> ?2 ORDER BY seq LIMIT 1";
inline constexpr std::string_view k_select_after_sql =
    "SELECT seq, kind, items, created_ms, length(frame), frame FROM batches WHERE seq > ?1"
    " ORDER BY seq LIMIT ?2";
inline constexpr std::string_view k_measure_older_sql =
    "SELECT COUNT(*), COALESCE(SUM(items), 0), COALESCE(SUM(length(frame)), 0) FROM batches"
    " WHERE created_ms < ?1";
inline constexpr std::string_view k_delete_older_sql = "DELETE FROM batches WHERE created_ms < ?1";
// Two subqueries, because SQLite answers a lone MIN or MAX from the index but scans for both.
inline constexpr std::string_view k_seq_bounds_sql =
    "SELECT (SELECT MIN(seq) FROM batches), (SELECT MAX(seq) FROM batches)";
inline constexpr std::string_view k_write_next_seq_sql =
    "UPDATE meta SET value = ?1 WHERE key = 'next_seq'";
// One counter at a time, run once per drop counter. An UPDATE of all three at once changes
// several rows, so SQLite opens a statement journal for it (a 64 KiB buffer), and with
// `key IN (...)` an ephemeral table too (a temporary b-tree with its own pager and cache).
inline constexpr std::string_view k_write_counter_sql = "UPDATE meta SET value = ?2 WHERE key = ?1";

// Start-up only: the COUNT and SUM read every row of the table once.
inline constexpr std::string_view k_load_state_sql =
    "SELECT (SELECT value FROM meta WHERE key = 'next_seq'),"
    " (SELECT value FROM meta WHERE key = 'dropped_batches'),"
    " (SELECT value FROM meta WHERE key = 'dropped_items'),"
    " (SELECT value FROM meta WHERE key = 'dropped_bytes'),"
    " COUNT(*), COALESCE(SUM(length(frame)), 0), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0)"
    " FROM batches";

} // namespace medic::agent::link::spool_sql
