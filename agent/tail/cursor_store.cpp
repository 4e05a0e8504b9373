// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/cursor_store.hpp"

#include <bit>
#include <string>

namespace medic::agent::tail::cursor_store {

namespace {

constexpr std::string_view k_schema =
    "CREATE TABLE IF NOT EXISTS tail_cursors ("
    " path TEXT NOT NULL,"
    " device INTEGER NOT NULL,"
    " inode INTEGER NOT NULL,"
    " file_offset INTEGER NOT NULL,"
    " head_hash INTEGER NOT NULL,"
    " PRIMARY KEY (device, inode))";

std::int64_t to_column(std::uint64_t value) noexcept {
  return std::bit_cast<std::int64_t>(value);
}

std::uint64_t from_column(std::int64_t value) noexcept {
  return std::bit_cast<std::uint64_t>(value);
}

} // namespace

Result<void> ensure_schema(sqlite::Database& db) {
  if (auto created = db.exec(k_schema); !created) {
    return fail(std::move(created).error().context("creating table tail_cursors"));
  }
  return {};
}

Result<void> save(sqlite::Database& db, std::span<const TailCursor> cursors) {
  // Saved at every flush that moved a position: both statements stay prepared.
  auto clear = db.cached("DELETE FROM tail_cursors");
  if (!clear) {
    return fail(std::move(clear).error().context("saving tail cursors"));
  }
  if (auto cleared = (*clear)->run(); !cleared) {
    return fail(std::move(cleared).error().context("saving tail cursors"));
  }
  auto cached_insert = db.cached(
      "INSERT OR REPLACE INTO tail_cursors (path, device, inode, file_offset, head_hash)"
      " VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!cached_insert) {
    return fail(std::move(cached_insert).error().context("saving tail cursors"));
  }
  sqlite::Statement* insert = *cached_insert;
  for (const TailCursor& cursor : cursors) {
    insert->bind(1, std::string_view(cursor.path))
        .bind(2, to_column(cursor.device))
        .bind(3, to_column(cursor.inode))
        .bind(4, to_column(cursor.offset))
        .bind(5, to_column(cursor.head_hash));
    if (auto done = insert->run(); !done) {
      return fail(std::move(done).error().context("saving the tail cursor of " + cursor.path));
    }
  }
  return {};
}

Result<std::vector<TailCursor>> load(sqlite::Database& db) {
  auto select = db.prepare(
      "SELECT path, device, inode, file_offset, head_hash FROM tail_cursors ORDER BY rowid");
  if (!select) {
    return fail(std::move(select).error().context("loading tail cursors"));
  }
  const sqlite::ResetOnExit reset(*select);
  std::vector<TailCursor> cursors;
  for (;;) {
    auto row = select->step();
    if (!row) {
      return fail(std::move(row).error().context("loading tail cursors"));
    }
    if (!*row) {
      break;
    }
    const std::string where = "tail_cursors row " + std::to_string(cursors.size() + 1);
    TailCursor cursor{select->column_text(0), from_column(select->column_int(1)),
                      from_column(select->column_int(2)), 0, from_column(select->column_int(4))};
    const std::int64_t offset = select->column_int(3);
    if (cursor.path.empty()) {
      return fail(ErrorCode::storage, where + ": empty path");
    }
    if (offset < 0) {
      return fail(ErrorCode::storage,
                  where + " (" + cursor.path + "): negative offset " + std::to_string(offset));
    }
    cursor.offset = static_cast<std::uint64_t>(offset);
    cursors.push_back(std::move(cursor));
  }
  return cursors;
}

} // namespace medic::agent::tail::cursor_store
