// SPDX-License-Identifier: Apache-2.0
#include "shared/sqlite/database.hpp"

#include <chrono>

#include <sqlite3.h>

namespace medic::sqlite {

namespace {

constexpr int k_busy_timeout_ms = 5000;

Error sqlite_error(sqlite3* db, std::string_view what) {
  return Error(ErrorCode::storage,
               std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

// SQLite's memory statistics take a global mutex around every malloc and free, on every
// connection of every thread; medic reads none of them. Only settable before SQLite initialises,
// so once, before the first open (a later call would fail harmlessly with SQLITE_MISUSE).
void configure_sqlite_once() {
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

} // namespace

Result<Database> Database::open(const std::filesystem::path& path, OpenMode mode) {
  const std::string where = "opening database " + path.string();
  configure_sqlite_once();
  int flags = SQLITE_OPEN_NOMUTEX;
  if (mode == OpenMode::read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
      if (ec) {
        return fail(ErrorCode::storage,
                    where + ": creating " + path.parent_path().string() + ": " + ec.message());
      }
    }
  }
  sqlite3* handle = nullptr;
  if (sqlite3_open_v2(path.c_str(), &handle, flags, nullptr) != SQLITE_OK) {
    Error error = sqlite_error(handle, where);
    sqlite3_close(handle);
    return fail(std::move(error));
  }
  Database db(handle, path);
  sqlite3_busy_timeout(handle, k_busy_timeout_ms);
  sqlite3_extended_result_codes(handle, 1);
  if (mode == OpenMode::read_write_create) {
    if (auto wal = db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !wal) {
      return fail(std::move(wal).error().context(where));
    }
  }
  if (auto fk = db.exec("PRAGMA foreign_keys=ON;"); !fk) {
    return fail(std::move(fk).error().context(where));
  }
  return db;
}

Database::Database(Database&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)),
      m_path(std::move(other.m_path)),
      m_cached(std::move(other.m_cached)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    m_cached.clear();
    sqlite3_close_v2(m_db);
    m_db = std::exchange(other.m_db, nullptr);
    m_path = std::move(other.m_path);
    m_cached = std::move(other.m_cached);
  }
  return *this;
}

Database::~Database() {
  m_cached.clear(); // finalised before the connection closes
  sqlite3_close_v2(m_db);
}

Result<void> Database::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(m_db, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string reason = message != nullptr ? message : sqlite3_errmsg(m_db);
    sqlite3_free(message);
    return fail(ErrorCode::storage, reason);
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(m_db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return fail(sqlite_error(m_db, "preparing '" + std::string(sql.substr(0, 60)) + "'"));
  }
  return Statement(m_db, stmt);
}

Result<Statement*> Database::cached(std::string_view sql) {
  for (auto& [text, statement] : m_cached) {
    if (text == sql) {
      return statement.get();
    }
  }
  if (m_cached.size() >= k_max_cached) {
    return fail(ErrorCode::internal, "more than " + std::to_string(k_max_cached) +
                                         " cached statements on " + m_path.string() +
                                         "; not caching '" + std::string(sql.substr(0, 60)) + "'");
  }
  auto statement = prepare(sql);
  if (!statement) {
    return fail(std::move(statement).error());
  }
  m_cached.emplace_back(std::string(sql), std::make_unique<Statement>(std::move(*statement)));
  return m_cached.back().second.get();
}

std::int64_t Database::changes() const noexcept {
  return sqlite3_changes64(m_db);
}

std::int64_t Database::cache_spills() const noexcept {
  int current = 0;
  int highwater = 0;
  if (sqlite3_db_status(m_db, SQLITE_DBSTATUS_CACHE_SPILL, &current, &highwater, 0) != SQLITE_OK) {
    return 0;
  }
  return current;
}

std::string Database::last_error() const {
  return sqlite3_errmsg(m_db);
}

Result<int> Database::migrate(const std::vector<Migration>& migrations) {
  if (auto created = exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                          " version INTEGER PRIMARY KEY,"
                          " name TEXT NOT NULL,"
                          " applied_at_ms INTEGER NOT NULL)");
      !created) {
    return fail(std::move(created).error().context("creating schema_migrations"));
  }
  auto current_stmt = prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!current_stmt) {
    return fail(std::move(current_stmt).error());
  }
  auto has_row = current_stmt->step();
  if (!has_row) {
    return fail(std::move(has_row).error());
  }
  int current = static_cast<int>(current_stmt->column_int(0));
  // Finished now: a statement left mid-step keeps a read open on the schema, and a migration
  // that drops an index or table would then fail with "database table is locked".
  current_stmt->reset();
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  if (current > newest) {
    return fail(ErrorCode::storage, "database " + m_path.string() + " has schema version " +
                                        std::to_string(current) + ", newer than this binary's " +
                                        std::to_string(newest) + "; upgrade medic");
  }
  for (const auto& migration : migrations) {
    if (migration.version <= current) {
      continue;
    }
    const std::string where = "applying migration " + std::to_string(migration.version) + " (" +
                              std::string(migration.name) + ")";
    auto tx = Transaction::begin(*this);
    if (!tx) {
      return fail(std::move(tx).error().context(where));
    }
    if (auto applied = exec(migration.sql); !applied) {
      return fail(std::move(applied).error().context(where));
    }
    auto record = prepare(
        "INSERT INTO schema_migrations (version, name, applied_at_ms)"
        " VALUES (?, ?, ?)");
    if (!record) {
      return fail(std::move(record).error().context(where));
    }
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    record->bind(1, std::int64_t{migration.version})
        .bind(2, migration.name)
        .bind(3, static_cast<std::int64_t>(now_ms));
    if (auto recorded = record->run(); !recorded) {
      return fail(std::move(recorded).error().context(where));
    }
    if (auto committed = tx->commit(); !committed) {
      return fail(std::move(committed).error().context(where));
    }
    current = migration.version;
  }
  return current;
}

Statement::Statement(Statement&& other) noexcept
    : m_db(other.m_db), m_stmt(std::exchange(other.m_stmt, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(m_stmt);
    m_db = other.m_db;
    m_stmt = std::exchange(other.m_stmt, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(m_stmt);
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(m_stmt, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(m_stmt, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text(m_stmt, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(m_stmt, index);
  return *this;
}

namespace {

// SQLITE_TRANSIENT copies the bytes; SQLITE_STATIC keeps the pointer until the next bind or reset.
void bind_bytes(sqlite3_stmt* stmt, int index, std::span<const std::byte> value,
                sqlite3_destructor_type lifetime) {
  // sqlite3_bind_blob64 treats a null pointer as NULL, and an empty span may have one.
  if (value.empty()) {
    sqlite3_bind_zeroblob(stmt, index, 0);
  } else {
    sqlite3_bind_blob64(stmt, index, value.data(), value.size(), lifetime);
  }
}

} // namespace

Statement& Statement::bind_blob(int index, std::span<const std::byte> value) {
  bind_bytes(m_stmt, index, value, SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_blob_view(int index, std::span<const std::byte> value) {
  bind_bytes(m_stmt, index, value, SQLITE_STATIC);
  return *this;
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  Error error = sqlite_error(m_db, "executing statement");
  sqlite3_reset(m_stmt);
  return fail(std::move(error));
}

Result<void> Statement::run() {
  ResetOnExit reset(*this); // also after an error: a statement left mid-step pins the WAL
  for (;;) {
    auto row = step();
    if (!row) {
      return fail(std::move(row).error());
    }
    if (!*row) {
      return {};
    }
  }
}

void Statement::reset() noexcept {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

std::int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(m_stmt, index);
}

double Statement::column_double(int index) const {
  return sqlite3_column_double(m_stmt, index);
}

std::string Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(m_stmt, index);
  const int size = sqlite3_column_bytes(m_stmt, index);
  return text == nullptr
             ? std::string()
             : std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::string Statement::column_blob(int index) const {
  // sqlite3_column_blob before sqlite3_column_bytes: the reverse order may convert and
  // invalidate the pointer.
  const void* bytes = sqlite3_column_blob(m_stmt, index);
  const int size = sqlite3_column_bytes(m_stmt, index);
  return bytes == nullptr
             ? std::string()
             : std::string(static_cast<const char*>(bytes), static_cast<std::size_t>(size));
}

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(m_stmt, index) == SQLITE_NULL;
}

namespace {

// A one-word statement of a transaction, from the connection's cache: transactions run at every
// spool commit and every coordinator ingest.
Result<void> run_cached(Database& db, std::string_view sql) {
  auto statement = db.cached(sql);
  if (!statement) {
    return fail(std::move(statement).error());
  }
  return (*statement)->run();
}

} // namespace

Result<Transaction> Transaction::begin(Database& db) {
  if (auto begun = run_cached(db, "BEGIN IMMEDIATE"); !begun) {
    return fail(std::move(begun).error().context("beginning transaction"));
  }
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)) {}

Transaction::~Transaction() {
  rollback();
}

void Transaction::rollback() noexcept {
  if (m_db != nullptr) {
    (void)run_cached(*m_db, "ROLLBACK");
    m_db = nullptr;
  }
}

Result<void> Transaction::commit() {
  if (auto committed = run_cached(*m_db, "COMMIT"); !committed) {
    return fail(std::move(committed).error().context("committing"));
  }
  m_db = nullptr;
  return {};
}

} // namespace medic::sqlite
