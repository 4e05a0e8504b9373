// SPDX-License-Identifier: Apache-2.0
// The Store contract on both backends (store_backends.hpp): each case runs on a fresh SQLite
// file and on a fresh PostgreSQL schema.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "coordinator/storage/store.hpp"
#include "tests/unit/coordinator/storage/store_backends.hpp"

namespace storage = medic::coordinator::storage;
namespace protocol = medic::protocol;
using medic::test::batch_of;
using medic::test::envelope;
using medic::test::Postgres;
using medic::test::sample;
using medic::test::Sqlite;
using medic::test::TestDatabase;
using storage::BatchOutcome;

namespace {

BatchOutcome record(storage::Store& store, const std::string& agent_id, std::uint64_t seq,
                    std::vector<protocol::Sample> samples, std::int64_t received_ms = 1000) {
  auto outcome =
      store.record_batch(envelope(agent_id, seq), batch_of(std::move(samples)), received_ms);
  if (!outcome) {
    FAIL("record_batch: " << outcome.error().message());
  }
  return *outcome;
}

std::vector<storage::AgentRecord> agents(storage::Store& store) {
  auto listed = store.list_agents();
  if (!listed) {
    FAIL("list_agents: " << listed.error().message());
  }
  return std::move(*listed);
}

} // namespace

TEMPLATE_TEST_CASE("store: migrations are applied once and recorded", "[storage]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  (void)db.open();
  const auto migrations = static_cast<std::int64_t>(db.migrations().size());
  REQUIRE(migrations >= 5);
  REQUIRE(db.query_int("SELECT COUNT(*) FROM schema_migrations") == migrations);
  REQUIRE(db.query_int("SELECT COUNT(*) FROM schema_migrations"
                       " WHERE version = 1 AND name = 'initial'") == 1);
  for (const auto* table :
       {"agents", "latest_samples", "signals", "incidents", "audit", "engine_state"}) {
    CHECK(db.has_table(table));
  }
  // How each backend remembers which batches it stored (SQLite: seq_ledger.hpp).
  CHECK(db.has_table(db.is_postgres() ? "received_batches" : "batch_gaps"));
  CHECK(db.has_table("received_batches") == db.is_postgres());
  const auto applied_at =
      db.query_int("SELECT applied_at_ms FROM schema_migrations WHERE version = 1");

  SECTION("reopening does not reapply") {
    auto store = db.open();
    REQUIRE(db.query_int("SELECT COUNT(*) FROM schema_migrations") == migrations);
    REQUIRE(db.query_int("SELECT applied_at_ms FROM schema_migrations WHERE version = 1") ==
            applied_at);
    REQUIRE(record(*store, "web-1", 1, {}) == BatchOutcome::stored);
  }
  if (!db.is_postgres()) {
    SECTION("the database is in WAL mode") {
      auto sqlite =
          medic::sqlite::Database::open(db.url().substr(9), medic::sqlite::OpenMode::read_only);
      REQUIRE(sqlite);
      auto mode = sqlite->prepare("PRAGMA journal_mode");
      REQUIRE(mode);
      REQUIRE(mode->step().value_or(false));
      REQUIRE(mode->column_text(0) == "wal");
    }
  }
}

// SQLite's migration 9 turns the claim rows into each agent's highest seq and the gaps below it:
// what was stored stays a redelivery, what was never stored can still come.
TEST_CASE("store: SQLite batch claims become seq gaps, with the same answers", "[storage]") {
  const TestDatabase db(Sqlite::kind);
  const auto& all = db.migrations();
  REQUIRE(all.size() >= 9);
  REQUIRE(all[8].version == 9);
  REQUIRE(db.migrate(std::vector<medic::sqlite::Migration>(all.begin(), all.begin() + 8)));
  db.exec(
      "INSERT INTO agents (id, first_seen_ms, last_seen_ms, last_seq, batches) VALUES"
      " ('a', 1, 1, 9, 5), ('b', 1, 1, 4, 1), ('hello-only', 1, 1, 0, 0);"
      " INSERT INTO received_batches (agent_id, seq, received_at_ms) VALUES"
      " ('a', 1, 1), ('a', 2, 1), ('a', 3, 1), ('a', 5, 1), ('a', 9, 1), ('b', 4, 1)");
  auto store = db.open();
  CHECK_FALSE(db.has_table("received_batches"));
  CHECK(db.query_int("SELECT COUNT(*) FROM batch_gaps") == 3);
  CHECK(db.query_int("SELECT COUNT(*) FROM batch_gaps WHERE agent_id = 'a' AND"
                     " ((first_seq = 4 AND last_seq = 4) OR (first_seq = 6 AND last_seq = 8))") ==
        2);
  CHECK(db.query_int("SELECT COUNT(*) FROM batch_gaps WHERE agent_id = 'b' AND first_seq = 1"
                     " AND last_seq = 3") == 1);
  CHECK(db.query_int("SELECT first_seq FROM agents WHERE id = 'a'") == 1);
  CHECK(db.query_int("SELECT first_seq FROM agents WHERE id = 'b'") == 4);
  for (const std::uint64_t seq : {1, 3, 5, 9}) {
    CAPTURE(seq);
    CHECK(record(*store, "a", seq, {}) == BatchOutcome::duplicate);
  }
  for (const std::uint64_t seq : {4, 7, 10}) {
    CAPTURE(seq);
    CHECK(record(*store, "a", seq, {}) == BatchOutcome::stored);
    CHECK(record(*store, "a", seq, {}) == BatchOutcome::duplicate);
  }
  CHECK(record(*store, "b", 4, {}) == BatchOutcome::duplicate);
  CHECK(record(*store, "b", 2, {}) == BatchOutcome::stored);
  CHECK(record(*store, "hello-only", 1, {}) == BatchOutcome::stored);
  CHECK(db.query_int("SELECT first_seq FROM agents WHERE id = 'hello-only'") == 1);
  CHECK(db.query_int("SELECT first_seq FROM agents WHERE id = 'b'") == 2);
  CHECK(db.query_int("SELECT batches FROM agents WHERE id = 'a'") == 8);
  // What is left of a's gaps after 4 and 7: {6, 6} and {8, 8}.
  CHECK(db.query_int("SELECT COUNT(*) FROM batch_gaps WHERE agent_id = 'a'") == 2);
}

// Every earlier schema version upgrades to the binary's, keeping what was stored before.
TEMPLATE_TEST_CASE("store: migrates from every earlier version", "[storage]", Sqlite, Postgres) {
  const auto& all = TestDatabase(TestType::kind).migrations();
  for (std::size_t k = 0; k <= all.size(); ++k) {
    CAPTURE(k);
    const TestDatabase db(TestType::kind);
    if (k > 0) {
      const std::vector<medic::sqlite::Migration> prefix(all.begin(),
                                                         all.begin() + static_cast<long>(k));
      auto migrated = db.migrate(prefix);
      REQUIRE(migrated);
      REQUIRE(*migrated == static_cast<int>(k));
      db.exec(
          "INSERT INTO agents (id, first_seen_ms, last_seen_ms, last_seq, batches)"
          " VALUES ('old-1', 10, 20, 3, 1)");
    }
    auto store = db.open();
    CHECK(db.query_int("SELECT MAX(version) FROM schema_migrations") ==
          static_cast<std::int64_t>(all.size()));
    REQUIRE(record(*store, "web-1", 1, {sample("cpu", 1, 100)}) == BatchOutcome::stored);
    const auto listed = agents(*store);
    REQUIRE(listed.size() == (k > 0 ? 2U : 1U));
    if (k > 0) {
      CHECK(listed[0].id == "old-1");
      CHECK(listed[0].last_seq == 3);
      CHECK(listed[0].dropped_batches == 0); // a column added by a later migration
    }
  }
}

TEMPLATE_TEST_CASE("store: refuses a database newer than the binary", "[storage]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  db.exec(
      "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY,"
      " name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL);"
      " INSERT INTO schema_migrations VALUES (999, 'future', 0)");
  auto store = storage::open_store(db.url());
  REQUIRE_FALSE(store);
  CHECK(store.error().code() == medic::ErrorCode::storage);
  CHECK_THAT(store.error().message(),
             Catch::Contains("has schema version 999, newer than this binary's " +
                             std::to_string(db.migrations().size()) + "; upgrade medic"));
  if (db.is_postgres()) {
    // The URL names the database, without its password.
    CHECK_THAT(store.error().message(), Catch::Contains(storage::redact_postgres_url(db.url())));
    CHECK_THAT(store.error().message(), Catch::Contains(":***@"));
  } else {
    CHECK_THAT(store.error().message(), Catch::Contains(db.url().substr(9)));
  }
  // Nothing of the old schema was created next to the future one.
  CHECK_FALSE(db.has_table("agents"));
}

TEMPLATE_TEST_CASE("store: hello then batch", "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  const protocol::Hello hello{"web-1.example", "0.1.0", {{"role", "web"}, {"env", "prod"}}, {}};
  REQUIRE(store->record_hello(envelope("web-1", 0), hello, 500));
  REQUIRE(record(*store, "web-1", 1, {sample("cpu", 0.5, 900), sample("mem", 42, 900)}, 1000) ==
          BatchOutcome::stored);

  const auto listed = agents(*store);
  REQUIRE(listed.size() == 1);
  const auto& agent = listed[0];
  CHECK(agent.id == "web-1");
  CHECK(agent.host == "web-1.example");
  CHECK(agent.version == "0.1.0");
  CHECK(agent.labels_json == R"({"env":"prod","role":"web"})");
  CHECK(agent.first_seen_ms == 500);
  CHECK(agent.last_seen_ms == 1000);
  CHECK(agent.last_seq == 1);
  CHECK(agent.batches == 1);
  CHECK(agent.samples == 2);
  CHECK(agent.latest ==
        std::vector<storage::LatestSample>{{"cpu", "", 0.5, 900}, {"mem", "", 42, 900}});

  SECTION("a second hello updates the agent but keeps first_seen and counters") {
    const protocol::Hello again{"web-1.new", "0.2.0", {}, {}};
    REQUIRE(store->record_hello(envelope("web-1", 0), again, 2000));
    const auto after = agents(*store);
    REQUIRE(after.size() == 1);
    CHECK(after[0].host == "web-1.new");
    CHECK(after[0].version == "0.2.0");
    CHECK(after[0].labels_json == "{}");
    CHECK(after[0].first_seen_ms == 500);
    CHECK(after[0].last_seen_ms == 2000);
    CHECK(after[0].batches == 1);
    CHECK(after[0].latest.size() == 2);
  }
}

TEMPLATE_TEST_CASE("store: batch without hello creates the agent", "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  REQUIRE(record(*store, "db-1", 7, {sample("disk", 0.9, 100)}, 1234) == BatchOutcome::stored);

  const auto listed = agents(*store);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].id == "db-1");
  CHECK(listed[0].host.empty());
  CHECK(listed[0].version.empty());
  CHECK(listed[0].labels_json == "{}");
  CHECK(listed[0].first_seen_ms == 1234);
  CHECK(listed[0].last_seen_ms == 1234);
  CHECK(listed[0].last_seq == 7);
  CHECK(listed[0].batches == 1);
  CHECK(listed[0].samples == 1);

  // A late HELLO fills in host and version without resetting when the agent was first seen.
  REQUIRE(
      store->record_hello(envelope("db-1", 0), protocol::Hello{"db-1.lan", "0.1.0", {}, {}}, 2000));
  const auto after = agents(*store);
  REQUIRE(after.size() == 1);
  CHECK(after[0].host == "db-1.lan");
  CHECK(after[0].first_seen_ms == 1234);
  CHECK(after[0].batches == 1);
}

TEMPLATE_TEST_CASE("store: a duplicate agent and seq is not counted twice", "[storage]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  REQUIRE(record(*store, "web-1", 3, {sample("cpu", 1, 100), sample("mem", 2, 100)}) ==
          BatchOutcome::stored);
  // A redelivery, even one carrying different (newer) content, changes nothing.
  REQUIRE(record(*store, "web-1", 3, {sample("cpu", 9, 200)}, 5000) == BatchOutcome::duplicate);

  auto listed = agents(*store);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].batches == 1);
  CHECK(listed[0].samples == 2);
  CHECK(listed[0].last_seen_ms == 1000);
  CHECK(listed[0].latest.at(0) == storage::LatestSample{"cpu", "", 1, 100});
  // PostgreSQL holds a claim for seq 3; SQLite the gap {1, 2} it passed over.
  CHECK(db.query_int(db.is_postgres() ? "SELECT COUNT(*) FROM received_batches"
                                      : "SELECT COUNT(*) FROM batch_gaps") == 1);

  // The same seq from another agent is a different batch.
  REQUIRE(record(*store, "web-2", 3, {}) == BatchOutcome::stored);
  // Out-of-order delivery: an older seq is new, and last_seq stays the highest.
  REQUIRE(record(*store, "web-1", 2, {sample("cpu", 5, 50)}) == BatchOutcome::stored);
  listed = agents(*store);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].batches == 2);
  CHECK(listed[0].samples == 3);
  CHECK(listed[0].last_seq == 3);
  CHECK(listed[1].batches == 1);
}

TEMPLATE_TEST_CASE("store: the latest sample keeps the newest time", "[storage]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  const auto latest_cpu = [&] { return agents(*store).at(0).latest.at(0); };

  REQUIRE(record(*store, "web-1", 1, {sample("cpu", 1, 2000)}) == BatchOutcome::stored);
  CHECK(latest_cpu() == storage::LatestSample{"cpu", "", 1, 2000});
  // An older sample arriving later (a spooled batch) does not overwrite a newer one.
  REQUIRE(record(*store, "web-1", 2, {sample("cpu", 2, 1000)}) == BatchOutcome::stored);
  CHECK(latest_cpu() == storage::LatestSample{"cpu", "", 1, 2000});
  REQUIRE(record(*store, "web-1", 3, {sample("cpu", 3, 3000)}) == BatchOutcome::stored);
  CHECK(latest_cpu() == storage::LatestSample{"cpu", "", 3, 3000});
  // Within one batch, the newest sample of a series wins whatever its position.
  REQUIRE(record(*store, "web-1", 4, {sample("cpu", 5, 5000), sample("cpu", 4, 4000)}) ==
          BatchOutcome::stored);
  CHECK(latest_cpu() == storage::LatestSample{"cpu", "", 5, 5000});
  CHECK(agents(*store).at(0).latest.size() == 1);
}

TEMPLATE_TEST_CASE("store: a NaN sample is counted but not stored as latest", "[storage]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  REQUIRE(record(*store, "web-1", 1,
                 {sample("cpu", 1, 100), sample("cpu", nan, 200), sample("load", nan, 200)}) ==
          BatchOutcome::stored);
  const auto listed = agents(*store);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].samples == 3);
  CHECK(listed[0].latest == std::vector<storage::LatestSample>{{"cpu", "", 1, 100}});
}

TEMPLATE_TEST_CASE("store: labels are stored in canonical form", "[storage]", Sqlite, Postgres) {
  using storage::canonical_labels;
  using Labels = std::vector<protocol::Label>;
  CHECK(canonical_labels(Labels{}).empty());
  CHECK(canonical_labels(Labels{{"mount", "/"}}) == "mount=/");
  CHECK(canonical_labels(Labels{{"z", "1"}, {"a", "2"}, {"m", "3"}}) == "a=2,m=3,z=1");
  CHECK(canonical_labels(Labels{{"k", "b"}, {"k", "a"}}) == "k=a,k=b");
  // Separators inside names or values are escaped, so these two label sets stay distinct.
  CHECK(canonical_labels(Labels{{"a", "1,b=2"}}) == R"(a=1\,b\=2)");
  CHECK(canonical_labels(Labels{{"a", "1"}, {"b", "2"}}) == "a=1,b=2");
  CHECK(canonical_labels(Labels{{"p", R"(C:\)"}}) == R"(p=C:\\)");

  const TestDatabase db(TestType::kind);
  auto store = db.open();
  // The same label set in another order is the same series.
  REQUIRE(record(*store, "web-1", 1,
                 {sample("disk", 1, 100, {{"mount", "/"}, {"dev", "sda1"}}),
                  sample("disk", 2, 200, {{"dev", "sda1"}, {"mount", "/"}}),
                  sample("disk", 3, 100, {{"dev", "sdb1"}})}) == BatchOutcome::stored);
  const auto latest = agents(*store).at(0).latest;
  CHECK(latest == std::vector<storage::LatestSample>{{"disk", "dev=sda1,mount=/", 2, 200},
                                                     {"disk", "dev=sdb1", 3, 100}});
}

TEMPLATE_TEST_CASE("store: agents and samples are listed in order", "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  CHECK(agents(*store).empty());
  for (const auto* id : {"web-2", "db-1", "web-10", "Web-3"}) {
    REQUIRE(record(*store, id, 1,
                   {sample("mem", 1, 1), sample("cpu", 1, 1, {{"core", "1"}}),
                    sample("cpu", 1, 1, {{"core", "0"}}), sample("cpu", 1, 1)}) ==
            BatchOutcome::stored);
  }
  const auto listed = agents(*store);
  std::vector<std::string> ids;
  for (const auto& agent : listed) {
    ids.push_back(agent.id);
    std::vector<std::string> series;
    for (const auto& latest : agent.latest) {
      series.push_back(latest.name + "{" + latest.labels + "}");
    }
    CHECK(series == std::vector<std::string>{"cpu{}", "cpu{core=0}", "cpu{core=1}", "mem{}"});
  }
  // Bytewise order: upper case before lower case, "web-10" before "web-2".
  CHECK(ids == std::vector<std::string>{"Web-3", "db-1", "web-10", "web-2"});
}

TEMPLATE_TEST_CASE("store: input no backend can store is rejected", "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  auto empty_id = store->record_batch(envelope("", 1), protocol::Batch{}, 1);
  REQUIRE_FALSE(empty_id);
  CHECK(empty_id.error().code() == medic::ErrorCode::invalid_argument);
  auto hello = store->record_hello(envelope("", 0), protocol::Hello{}, 1);
  REQUIRE_FALSE(hello);
  CHECK(hello.error().code() == medic::ErrorCode::invalid_argument);
  const std::uint64_t too_big = std::uint64_t{1} << 63;
  auto huge_seq = store->record_batch(envelope("web-1", too_big), protocol::Batch{}, 1);
  REQUIRE_FALSE(huge_seq);
  CHECK(huge_seq.error().code() == medic::ErrorCode::invalid_argument);
  CHECK_THAT(huge_seq.error().message(), Catch::Contains("9223372036854775808"));
  CHECK(agents(*store).empty());
  // The largest storable seq round-trips.
  REQUIRE(record(*store, "web-1", too_big - 1, {}) == BatchOutcome::stored);
  CHECK(agents(*store).at(0).last_seq == too_big - 1);
}

TEMPLATE_TEST_CASE("store: a failed batch leaves nothing behind and can be retried", "[storage]",
                   Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  REQUIRE(record(*store, "web-1", 16, {sample("cpu", 1, 100)}) == BatchOutcome::stored);
  // A second connection makes storing one sample fail midway through the batch.
  db.poison_samples();
  const std::vector<protocol::Sample> samples{sample("cpu", 2, 200), sample("poison", 1, 200)};
  auto failed = store->record_batch(envelope("web-1", 17), batch_of(samples), 2000);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code() == medic::ErrorCode::storage);
  CHECK_THAT(failed.error().message(), Catch::StartsWith("recording batch 17 from agent web-1: "));
  CHECK_THAT(failed.error().message(), Catch::Contains("poisoned"));
  auto listed = agents(*store);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].batches == 1);
  CHECK(listed[0].last_seq == 16);
  CHECK(listed[0].latest.at(0) == storage::LatestSample{"cpu", "", 1, 100});
  if (db.is_postgres()) {
    CHECK(db.query_int("SELECT COUNT(*) FROM received_batches WHERE seq = 17") == 0);
  }

  db.cure_samples();
  REQUIRE(record(*store, "web-1", 17, samples, 3000) == BatchOutcome::stored);
  listed = agents(*store);
  CHECK(listed.at(0).batches == 2);
  CHECK(listed.at(0).last_seq == 17);
  CHECK(listed.at(0).latest.size() == 2);
}

TEMPLATE_TEST_CASE("store: agent keys are enrolled and listed and revoked for good", "[storage]",
                   Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  const std::string key_a(40, 'a');
  const std::string key_b(40, 'b');
  REQUIRE(store->add_key({key_a, "web-1", 100, 0}));
  REQUIRE(store->add_key({key_a, "web-1", 200, 0})); // the same again: a no-op
  REQUIRE(store->add_key({key_b, "web-1", 300, 0}));
  auto other = store->add_key({key_a, "web-2", 400, 0});
  REQUIRE_FALSE(other);
  CHECK(other.error().message().find("already enrolled for agent web-1") != std::string::npos);

  auto keys = store->list_keys();
  REQUIRE(keys);
  REQUIRE(keys->size() == 2);
  CHECK(keys->front() == storage::AgentKey{key_a, "web-1", 100, 0});

  auto revoked = store->revoke_keys("web-1", 500); // by agent id: both keys
  REQUIRE(revoked);
  CHECK(revoked->size() == 2);
  auto again = store->revoke_keys(key_a, 600);
  REQUIRE(again);
  CHECK(again->empty());
  auto re_enrol = store->add_key({key_a, "web-1", 700, 0});
  REQUIRE_FALSE(re_enrol);
  CHECK(re_enrol.error().message().find("revoked") != std::string::npos);
  keys = store->list_keys();
  REQUIRE(keys);
  CHECK(keys->at(0).revoked_ms == 500);
}
