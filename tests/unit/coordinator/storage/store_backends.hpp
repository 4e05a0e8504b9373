// SPDX-License-Identifier: Apache-2.0
// The storage suite runs every case on both backends: TEMPLATE_TEST_CASE(..., Sqlite, Postgres)
// and a TestDatabase per test, which is a fresh SQLite file in a temporary directory or a fresh
// schema in the PostgreSQL database named by MEDIC_TEST_POSTGRES_URL (dropped at the end), so
// tests can run in parallel. Without that variable the PostgreSQL cases fail, saying how to start
// the test server: they are never skipped silently. Plus the batches the cases store.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>
#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/store_factory.hpp"
#include "migrations/migrations.hpp"
#include "protocol/message.hpp"
#include "shared/sqlite/database.hpp"
#include "tests/support/temp_dir.hpp"

namespace medic::test {

// What a batch arrives in: the agent and its batch sequence number.
inline protocol::Envelope envelope(std::string agent_id, std::uint64_t seq) {
  protocol::Envelope env;
  env.agent_id = std::move(agent_id);
  env.seq = seq;
  return env;
}

inline protocol::Sample sample(std::string name, double value, std::int64_t time_ms,
                               std::vector<protocol::Label> labels = {}) {
  return protocol::Sample{std::move(name), value, time_ms, std::move(labels)};
}

inline protocol::Batch batch_of(std::vector<protocol::Sample> samples) {
  protocol::Batch batch;
  batch.samples = std::move(samples);
  return batch;
}

struct Sqlite {
  static constexpr auto kind = coordinator::storage::StoreKind::sqlite;
  static constexpr const char* kind_name = "sqlite";
};
struct Postgres {
  static constexpr auto kind = coordinator::storage::StoreKind::postgres;
  static constexpr const char* kind_name = "postgres";
};

class TestDatabase {
public:
  using StoreKind = coordinator::storage::StoreKind;

  explicit TestDatabase(StoreKind kind) : m_kind(kind) {
    if (kind == StoreKind::sqlite) {
      m_path = (m_dir.path() / "sub" / "medic.db").string();
      m_url = "sqlite://" + m_path;
      return;
    }
    const char* base = std::getenv("MEDIC_TEST_POSTGRES_URL");
    if (base == nullptr || *base == '\0') {
      FAIL(
          "MEDIC_TEST_POSTGRES_URL is not set: run `scripts/pg_test_server.sh start` and export "
          "the URL it prints (export MEDIC_TEST_POSTGRES_URL=postgresql://...)");
    }
    m_admin_url = base;
    static std::atomic<unsigned> counter{0};
    m_schema = "medic_t" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" +
               std::to_string(std::random_device{}() % 1'000'000);
    admin_exec("DROP SCHEMA IF EXISTS " + m_schema + " CASCADE; CREATE SCHEMA " + m_schema);
    m_url = m_admin_url + (m_admin_url.find('?') == std::string::npos ? "?" : "&") +
            "options=-csearch_path%3D" + m_schema + "&application_name=" + m_schema;
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  ~TestDatabase() {
    if (!m_schema.empty()) {
      try {
        admin_exec("DROP SCHEMA IF EXISTS " + m_schema + " CASCADE");
      } catch (...) { // best effort: a left-over schema is harmless
      }
    }
  }

  [[nodiscard]] StoreKind kind() const { return m_kind; }
  [[nodiscard]] bool is_postgres() const { return m_kind == StoreKind::postgres; }
  [[nodiscard]] const std::string& url() const { return m_url; }
  [[nodiscard]] const std::string& schema() const { return m_schema; }

  // Opens the store through the factory, as the coordinator does; FAILs the test on an error.
  [[nodiscard]] std::unique_ptr<coordinator::storage::Store> open() const {
    auto store = coordinator::storage::open_store(m_url);
    if (!store) {
      FAIL("opening " << m_url << ": " << store.error().message());
    }
    return std::move(*store);
  }

  // The binary's migrations for this backend.
  [[nodiscard]] const std::vector<sqlite::Migration>& migrations() const {
    return is_postgres() ? migrations::postgres_migrations() : migrations::sqlite_migrations();
  }

  // Applies `migrations` (a prefix of migrations(), for upgrade tests) the backend's own way.
  [[nodiscard]] Result<int> migrate(const std::vector<sqlite::Migration>& migrations) const {
    if (is_postgres()) {
      return coordinator::storage::migrate_postgres(m_url, migrations);
    }
    auto db = sqlite::Database::open(m_path, sqlite::OpenMode::read_write_create);
    if (!db) {
      return fail(std::move(db).error());
    }
    return db->migrate(migrations);
  }

  // Statements on a second connection, to see what is stored rather than what the store says.
  void exec(const std::string& sql) const {
    if (is_postgres()) {
      pqxx::connection connection(m_url);
      pqxx::work tx(connection);
      tx.exec(sql);
      tx.commit();
      return;
    }
    auto db = sqlite::Database::open(m_path, sqlite::OpenMode::read_write_create);
    REQUIRE(db);
    auto done = db->exec(sql);
    if (!done) {
      FAIL(sql << ": " << done.error().message());
    }
  }
  [[nodiscard]] std::int64_t query_int(const std::string& sql) const {
    if (is_postgres()) {
      pqxx::connection connection(m_url);
      pqxx::work tx(connection);
      return tx.exec1(sql)[0].as<std::int64_t>();
    }
    auto db = sqlite::Database::open(m_path, sqlite::OpenMode::read_only);
    REQUIRE(db);
    auto statement = db->prepare(sql);
    REQUIRE(statement);
    auto row = statement->step();
    REQUIRE(row);
    REQUIRE(*row);
    return statement->column_int(0);
  }
  [[nodiscard]] bool has_table(const std::string& name) const {
    return query_int(is_postgres() ? "SELECT COUNT(*) FROM information_schema.tables WHERE"
                                     " table_schema = '" +
                                         m_schema + "' AND table_name = '" + name + "'"
                                   : "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'"
                                     " AND name = '" +
                                         name + "'") == 1;
  }

  // Makes numbering a new series named 'poison' fail with "poisoned", from another connection:
  // a failure midway through a batch (both backends number new series inside the batch's
  // transaction; latest values may be written later, in bulk).
  void poison_samples() const {
    if (is_postgres()) {
      exec(
          "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          " IF NEW.name = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$;"
          " CREATE TRIGGER poison BEFORE INSERT ON series FOR EACH ROW"
          " EXECUTE FUNCTION poison()");
    } else {
      exec(
          "CREATE TRIGGER poison BEFORE INSERT ON series"
          " WHEN NEW.name = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
    }
  }
  void cure_samples() const {
    exec(is_postgres() ? "DROP TRIGGER poison ON series" : "DROP TRIGGER poison");
  }

  // Ends the store's server session (PostgreSQL only), as a server restart would.
  void kill_sessions() const {
    admin_exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = '" +
        m_schema + "'");
  }

private:
  void admin_exec(const std::string& sql) const {
    pqxx::connection connection(m_admin_url);
    pqxx::nontransaction tx(connection);
    tx.exec(sql);
  }

  StoreKind m_kind;
  TempDir m_dir;
  std::string m_path; // SQLite
  std::string m_admin_url;
  std::string m_schema; // PostgreSQL
  std::string m_url;
};

} // namespace medic::test
