// SPDX-License-Identifier: Apache-2.0
// RAII wrappers over the SQLite C API: a connection opened in WAL mode, prepared statements with
// typed binds, and a transaction guard. Not thread-safe: one connection belongs to one thread.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace medic::sqlite {

class Statement;

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

enum class OpenMode { read_write_create, read_only };

class Database {
public:
  // Opens (creating the file and its directory when allowed), sets WAL, a busy timeout, and
  // foreign keys. Errors name the path.
  [[nodiscard]] static Result<Database> open(const std::filesystem::path& path, OpenMode mode);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  [[nodiscard]] Result<void> exec(std::string_view sql);
  [[nodiscard]] Result<Statement> prepare(std::string_view sql);
  // One statement, prepared at its first use and kept with the connection: for SQL that runs
  // again and again (a transaction's BEGIN and COMMIT, a write at every flush). Compiling it each
  // time costs CPU and brings SQLite's parser and code generator back into memory. The caller
  // resets it after use (run() does; step() callers hold a ResetOnExit). At most
  // k_max_cached statements: more is an error (each call site passes a fixed text).
  [[nodiscard]] Result<Statement*> cached(std::string_view sql);
  static constexpr std::size_t k_max_cached = 32;
  [[nodiscard]] std::string last_error() const;
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  [[nodiscard]] std::int64_t changes() const noexcept;
  // Dirty pages written to the journal in the middle of a transaction because the page cache
  // was full (SQLITE_DBSTATUS_CACHE_SPILL), since the connection opened.
  [[nodiscard]] std::int64_t cache_spills() const noexcept;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return m_path; }

  // Applies every migration newer than the recorded version, each in its own transaction, and
  // records it in schema_migrations. Refuses a database whose version is newer than the newest
  // migration this binary knows. Returns the schema version now in place.
  [[nodiscard]] Result<int> migrate(const std::vector<Migration>& migrations);

private:
  friend class WalCheckpointer; // hooks commits and checkpoints through the C API
  Database(sqlite3* handle, std::filesystem::path path) : m_db(handle), m_path(std::move(path)) {}

  sqlite3* m_db = nullptr;
  std::filesystem::path m_path;
  std::vector<std::pair<std::string, std::unique_ptr<Statement>>> m_cached; // finalised first
};

class Statement {
public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binds are 1-based like SQLite's. Text is copied (SQLITE_TRANSIENT).
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind_null(int index);
  // Copied (SQLITE_TRANSIENT). An empty span binds a zero-length blob, not NULL.
  Statement& bind_blob(int index, std::span<const std::byte> value);
  // Not copied (SQLITE_STATIC), for a large blob run at once: the bytes must stay valid until
  // the statement's next reset(), which unbinds them (run() and ResetOnExit reset).
  Statement& bind_blob_view(int index, std::span<const std::byte> value);
  // Any other integer (int, unsigned, uint64_t) binds as int64; values above INT64_MAX wrap,
  // so callers range-check unsigned 64-bit values first.
  template <std::integral Integer>
  Statement& bind(int index, Integer value) {
    return bind(index, static_cast<std::int64_t>(value));
  }

  // True when a row is ready to read, false when done.
  [[nodiscard]] Result<bool> step();
  // step() until done, for statements that return no rows. Resets afterwards.
  [[nodiscard]] Result<void> run();
  void reset() noexcept;

  [[nodiscard]] std::int64_t column_int(int index) const;
  [[nodiscard]] double column_double(int index) const;
  [[nodiscard]] std::string column_text(int index) const;
  // The bytes of a BLOB (or any other) column, unconverted; empty for NULL.
  [[nodiscard]] std::string column_blob(int index) const;
  [[nodiscard]] bool column_is_null(int index) const;

private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* handle) : m_db(db), m_stmt(handle) {}

  sqlite3* m_db = nullptr;
  sqlite3_stmt* m_stmt = nullptr;
};

// Resets a statement on every path out of a scope: a statement left mid-step keeps its read
// snapshot open and would pin the WAL.
class ResetOnExit {
public:
  explicit ResetOnExit(Statement& statement) : m_statement(statement) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { m_statement.reset(); }

private:
  Statement& m_statement;
};

// BEGIN IMMEDIATE on construction; ROLLBACK unless commit() succeeded.
class Transaction {
public:
  [[nodiscard]] static Result<Transaction> begin(Database& db);
  Transaction(Transaction&& other) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  [[nodiscard]] Result<void> commit();
  // Undoes everything now (also after a failed commit); the destructor then does nothing.
  void rollback() noexcept;

private:
  explicit Transaction(Database& db) : m_db(&db) {}
  Database* m_db;
};

// Steps `statement` to its end and turns each row into a T with `read(statement)`.
template <class T, class Read>
[[nodiscard]] Result<std::vector<T>> collect_rows(Statement& statement, Read&& read) {
  std::vector<T> rows;
  for (;;) {
    auto row = statement.step();
    if (!row) {
      return fail(std::move(row).error());
    }
    if (!*row) {
      return rows;
    }
    rows.push_back(read(statement));
  }
}

} // namespace medic::sqlite
