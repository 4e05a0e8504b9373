// SPDX-License-Identifier: Apache-2.0
// Tail cursors in SQLite (the agent's spool database), so that records and the cursors that
// follow them are committed together: the caller saves the cursors inside the transaction that
// spools the batch carrying those records. Nothing here begins or commits a transaction.
//
// Table tail_cursors(path, device, inode, file_offset, head_hash). The unsigned 64-bit fields
// are stored as the SQLite integer with the same bits (values above INT64_MAX read back as
// negative numbers in the sqlite3 shell). Whichever thread owns the connection (the spool
// worker, never the loop).
#pragma once

#include <span>
#include <vector>

#include "agent/tail/tail_types.hpp"
#include "shared/error.hpp"
#include "shared/sqlite/database.hpp"

namespace medic::agent::tail::cursor_store {

// Creates the table when missing. Idempotent.
[[nodiscard]] Result<void> ensure_schema(sqlite::Database& db);

// Replaces every saved cursor with `cursors`. Call inside the caller's transaction: on its
// own (autocommit) the delete and the inserts would commit one by one.
[[nodiscard]] Result<void> save(sqlite::Database& db, std::span<const TailCursor> cursors);

// The saved cursors; errors name the row that is wrong (empty path, negative offset).
[[nodiscard]] Result<std::vector<TailCursor>> load(sqlite::Database& db);

} // namespace medic::agent::tail::cursor_store
