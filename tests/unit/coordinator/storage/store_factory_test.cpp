// SPDX-License-Identifier: Apache-2.0
// open_store() by URL, and what only a server database can do to a store: lose its connection,
// refuse bytes SQLite keeps. Runs on both backends like the rest of the storage suite.
#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"
#include "coordinator/storage/store_factory.hpp"
#include "tests/unit/coordinator/storage/store_backends.hpp"

namespace storage = medic::coordinator::storage;
namespace protocol = medic::protocol;
using medic::test::envelope;
using medic::test::Postgres;
using medic::test::Sqlite;
using medic::test::TestDatabase;

namespace {

protocol::Batch one_sample(double value) {
  return medic::test::batch_of({medic::test::sample("cpu", value, 100)});
}

} // namespace

TEST_CASE("store factory: URL forms", "[storage]") {
  using storage::StoreKind;
  CHECK(storage::store_kind("sqlite:///var/lib/medic/medic.db") == StoreKind::sqlite);
  CHECK(storage::store_kind("postgresql://u:p@db:5432/medic") == StoreKind::postgres);
  CHECK(storage::store_kind("postgres://db/medic?sslmode=require") == StoreKind::postgres);
  CHECK(storage::sqlite_path("sqlite:///var/lib/medic/medic.db") == "/var/lib/medic/medic.db");
  CHECK(storage::sqlite_path("sqlite:relative.db") == "relative.db");
  CHECK_FALSE(storage::sqlite_path("sqlite://"));

  auto mysql = storage::open_store("mysql://db/medic");
  REQUIRE_FALSE(mysql);
  CHECK(mysql.error().code() == medic::ErrorCode::config);
  CHECK_THAT(mysql.error().message(), Catch::Contains("unsupported storage URL scheme 'mysql'"));
  CHECK_THAT(mysql.error().message(), Catch::Contains("postgresql://"));
  auto bare = storage::open_store("/var/lib/medic.db");
  REQUIRE_FALSE(bare);
  CHECK_THAT(bare.error().message(), Catch::Contains("no scheme"));
}

TEST_CASE("store factory: passwords never appear in messages", "[storage]") {
  CHECK(storage::redact_postgres_url("postgresql://medic:s3cret@127.0.0.1:5432/db?x=1") ==
        "postgresql://medic:***@127.0.0.1:5432/db?x=1");
  CHECK(storage::redact_postgres_url("postgresql://h/db?user=u&password=s3cret&sslmode=x") ==
        "postgresql://h/db?user=u&password=***&sslmode=x");
  CHECK(storage::redact_postgres_url("postgresql://medic@h/db") == "postgresql://medic@h/db");
  // Nothing listens on port 1: the connection error names the server but not the password.
  auto refused = storage::open_store("postgresql://medic:s3cret@127.0.0.1:1/medic");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == medic::ErrorCode::storage);
  CHECK_THAT(refused.error().message(), Catch::Contains("127.0.0.1:1"));
  CHECK_THAT(refused.error().message(), !Catch::Contains("s3cret"));
}

TEST_CASE("store factory: text PostgreSQL refuses is made storable", "[storage]") {
  namespace pg = storage::pg;
  CHECK(pg::text("plain ünïcode") == "plain ünïcode");
  CHECK(pg::text(std::string("a\0b", 3)) ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(pg::text("bad \xff\xfe end") == "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
  CHECK(pg::text("\xe2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");                 // truncated sequence
  CHECK(pg::text("\xed\xa0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // a surrogate
}

TEMPLATE_TEST_CASE("store: free text with NUL and invalid UTF-8 is stored", "[storage]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  protocol::Batch batch;
  protocol::LogEvent line;
  line.source = "app";
  line.path = "/var/log/app.log";
  line.time_ms = 10;
  line.text = std::string("bytes \0 and \xff here", 18);
  batch.logs = {line};
  auto stored = store->record_batch(envelope("web-1", 1), batch, 100);
  REQUIRE(stored);
  CHECK(*stored == storage::BatchOutcome::stored);
  auto logs = store->recent_log_events({});
  REQUIRE(logs);
  REQUIRE(logs->size() == 1);
  // SQLite keeps the bytes; PostgreSQL keeps the rest of the line around U+FFFD.
  CHECK(logs->front().event.text ==
        (db.is_postgres() ? std::string("bytes \xEF\xBF\xBD and \xEF\xBF\xBD here") : line.text));
}

TEMPLATE_TEST_CASE("store: a lost connection is reopened on the next call", "[storage]", Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  REQUIRE(store->record_batch(envelope("web-1", 1), one_sample(1), 100));
  db.kill_sessions(); // as a server restart would
  auto stored = store->record_batch(envelope("web-1", 2), one_sample(2), 200);
  REQUIRE(stored);
  CHECK(*stored == storage::BatchOutcome::stored);
  db.kill_sessions();
  auto agents = store->list_agents();
  REQUIRE(agents);
  REQUIRE(agents->size() == 1);
  CHECK(agents->front().batches == 2);
  CHECK(agents->front().latest.at(0).value == 2);
}

// Not part of the suite (hidden): the time of record_batch for a 100-sample batch.
TEMPLATE_TEST_CASE("store: record_batch timing", "[.][storage-timing]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  protocol::Batch batch;
  for (int i = 0; i < 100; ++i) {
    batch.samples.push_back({"metric_" + std::to_string(i % 50), 1.5, 0, {{"core", "0"}}});
  }
  constexpr int k_batches = 1000;
  const auto start = std::chrono::steady_clock::now();
  for (int seq = 1; seq <= k_batches; ++seq) {
    for (auto& s : batch.samples) {
      s.time_ms = seq;
    }
    REQUIRE(store->record_batch(envelope("bench", static_cast<std::uint64_t>(seq)), batch, seq));
  }
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  WARN(TestType::kind_name << ": " << us / k_batches << " us per 100-sample batch");
  CHECK(store->list_agents().value().at(0).batches == static_cast<std::uint64_t>(k_batches));
}
