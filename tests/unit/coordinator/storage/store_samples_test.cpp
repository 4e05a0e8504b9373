// SPDX-License-Identifier: Apache-2.0
// Samples over time on both backends: raw rows, minute and hour roll-ups, retention, and the
// daily healing figures.
#include <limits>

#include <catch2/catch.hpp>

#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"
#include "tests/unit/coordinator/storage/store_backends.hpp"

namespace storage = medic::coordinator::storage;
namespace protocol = medic::protocol;
using medic::test::batch_of;
using medic::test::envelope;
using medic::test::Postgres;
using medic::test::sample;
using medic::test::Sqlite;
using medic::test::TestDatabase;

namespace {

constexpr std::int64_t k_t0 = 1'700'000'040'000; // 40 s into a minute
constexpr std::int64_t k_never = std::numeric_limits<std::int64_t>::max();

void store(storage::Store& store, const std::string& agent, std::uint64_t seq,
           std::vector<protocol::Sample> samples, std::int64_t received_ms = k_t0) {
  const auto outcome =
      store.record_batch(envelope(agent, seq), batch_of(std::move(samples)), received_ms);
  if (!outcome) {
    FAIL(outcome.error().message());
  }
}

storage::SeriesQuery series_of(std::string agent, std::string name = "") {
  storage::SeriesQuery query;
  query.agent_id = std::move(agent);
  query.name = std::move(name);
  return query;
}

} // namespace

TEMPLATE_TEST_CASE("store: raw samples are kept and read back by series and time", "[storage]",
                   Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  store(*s, "web-1", 1,
        {sample("cpu.usage_pct", 12.5, k_t0), sample("disk.used_pct", 80, k_t0, {{"mount", "/"}}),
         sample("disk.used_pct", 40, k_t0, {{"mount", "/var"}})});
  store(*s, "web-1", 2, {sample("cpu.usage_pct", 14, k_t0 + 1000)});
  store(*s, "web-2", 1, {sample("cpu.usage_pct", 99, k_t0)});
  // Redelivered: stored once.
  store(*s, "web-1", 2, {sample("cpu.usage_pct", 14, k_t0 + 1000)});
  REQUIRE(db.query_int("SELECT COUNT(*) FROM sample_batches") == 3);
  REQUIRE(db.query_int("SELECT COUNT(*) FROM series") == 4);

  auto all = s->read_samples(series_of("web-1"));
  REQUIRE(all);
  REQUIRE(all->size() == 4);
  REQUIRE(all->back() == storage::LatestSample{"cpu.usage_pct", "", 14, k_t0 + 1000});

  auto cpu = s->read_samples(series_of("web-1", "cpu.usage_pct"));
  REQUIRE(cpu);
  REQUIRE(*cpu == std::vector<storage::LatestSample>{{"cpu.usage_pct", "", 12.5, k_t0},
                                                     {"cpu.usage_pct", "", 14, k_t0 + 1000}});
  auto var = series_of("web-1", "disk.used_pct");
  var.labels = "mount=/var";
  auto disk = s->read_samples(var);
  REQUIRE(disk);
  REQUIRE(*disk == std::vector<storage::LatestSample>{{"disk.used_pct", "mount=/var", 40, k_t0}});

  auto later = series_of("web-1", "cpu.usage_pct");
  later.since_ms = k_t0 + 1;
  auto recent = s->read_samples(later);
  INFO((recent ? "" : recent.error().message()));
  REQUIRE(recent);
  REQUIRE(recent->size() == 1);
  auto limited = series_of("web-1");
  limited.limit = 2;
  REQUIRE(s->read_samples(limited)->size() == 2);
  REQUIRE(s->read_samples(series_of("nobody"))->empty());
}

TEMPLATE_TEST_CASE("store: minute roll-ups are written when their minute closes, late ones add up",
                   "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  const std::int64_t minute = storage::bucket_start(k_t0, storage::k_minute_ms);
  store(*s, "a", 1, {sample("load", 1, k_t0), sample("load", 5, k_t0 + 10'000)});
  store(*s, "a", 2, {sample("load", 3, k_t0 + 15'000)});
  store(*s, "a", 3, {sample("load", 100, minute + storage::k_minute_ms)}); // the next minute

  auto early = s->flush_rollups(minute + storage::k_minute_ms - 1);
  REQUIRE(early);
  REQUIRE(early->minute_rows == 0); // nothing has closed yet
  REQUIRE(s->read_rollups(storage::RollupPeriod::minute, series_of("a"))->empty());

  auto flushed = s->flush_rollups(minute + storage::k_minute_ms);
  REQUIRE(flushed);
  REQUIRE(flushed->minute_rows == 1);
  REQUIRE(flushed->open_buckets == 1);
  auto rows = s->read_rollups(storage::RollupPeriod::minute, series_of("a"));
  REQUIRE(rows);
  REQUIRE(*rows == std::vector<storage::SeriesRollup>{{"load", "", minute, 3, 9, 1, 5}});

  // A batch that arrives after its minute was written is merged into it.
  store(*s, "a", 4, {sample("load", -2, k_t0 + 1)});
  REQUIRE(s->flush_rollups(minute + storage::k_minute_ms));
  rows = s->read_rollups(storage::RollupPeriod::minute, series_of("a"));
  REQUIRE(rows->front() == storage::SeriesRollup{"load", "", minute, 4, 7, -2, 5});

  // A duplicate batch adds nothing.
  store(*s, "a", 4, {sample("load", -2, k_t0 + 1)});
  REQUIRE(s->flush_rollups(k_never));
  rows = s->read_rollups(storage::RollupPeriod::minute, series_of("a"));
  REQUIRE(rows->size() == 2);
  REQUIRE(rows->front().count == 4);
  REQUIRE(rows->back() ==
          storage::SeriesRollup{"load", "", minute + storage::k_minute_ms, 1, 100, 100, 100});
}

TEMPLATE_TEST_CASE("store: whole hours roll up from their minutes, once", "[storage]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  const std::int64_t hour = storage::bucket_start(k_t0, storage::k_hour_ms);
  std::uint64_t seq = 0;
  for (int m = 0; m < 60; m += 10) {
    store(*s, "a", ++seq, {sample("mem", m, hour + m * storage::k_minute_ms)});
  }
  store(*s, "a", ++seq, {sample("mem", 1000, hour + storage::k_hour_ms)}); // next hour
  REQUIRE(s->flush_rollups(hour + storage::k_hour_ms - 1));                // the hour has not ended
  REQUIRE(s->read_rollups(storage::RollupPeriod::hour, series_of("a"))->empty());

  auto flushed = s->flush_rollups(hour + storage::k_hour_ms + storage::k_minute_ms);
  REQUIRE(flushed);
  REQUIRE(flushed->hours >= 1);
  auto hours = s->read_rollups(storage::RollupPeriod::hour, series_of("a"));
  REQUIRE(hours);
  REQUIRE(*hours == std::vector<storage::SeriesRollup>{{"mem", "", hour, 6, 150, 0, 50}});
  // Flushing again rolls no hour twice.
  REQUIRE(s->flush_rollups(hour + storage::k_hour_ms + storage::k_minute_ms)->hours == 0);
  REQUIRE(s->read_rollups(storage::RollupPeriod::hour, series_of("a"))->size() == 1);
}

TEMPLATE_TEST_CASE("store: a batch that fails leaves no sample, series or roll-up behind",
                   "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  if (db.is_postgres()) {
    db.exec(
        "CREATE FUNCTION no_raw() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " RAISE EXCEPTION 'no raw rows today'; END $$;"
        " CREATE TRIGGER no_raw BEFORE INSERT ON sample_batches FOR EACH ROW"
        " EXECUTE FUNCTION no_raw()");
  } else {
    db.exec(
        "CREATE TRIGGER no_raw BEFORE INSERT ON sample_batches"
        " BEGIN SELECT RAISE(ABORT, 'no raw rows today'); END");
  }
  protocol::Batch batch;
  batch.samples = {sample("fresh.series", 7, k_t0)};
  auto failed = s->record_batch(envelope("a", 1), batch, k_t0);
  REQUIRE_FALSE(failed);
  REQUIRE_THAT(failed.error().message(), Catch::Contains("no raw rows today"));
  REQUIRE(db.query_int("SELECT COUNT(*) FROM series") == 0);
  db.exec(db.is_postgres() ? "DROP TRIGGER no_raw ON sample_batches" : "DROP TRIGGER no_raw");

  // The agent sends it again: stored once, counted once, under the right name.
  store(*s, "a", 1, {sample("fresh.series", 7, k_t0)});
  REQUIRE(s->flush_rollups(k_never));
  auto rows = s->read_rollups(storage::RollupPeriod::minute, series_of("a"));
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  REQUIRE(rows->front().name == "fresh.series");
  REQUIRE(rows->front().count == 1);
  REQUIRE(s->read_samples(series_of("a"))->size() == 1);
}

TEMPLATE_TEST_CASE("store: series keep their ids across a restart", "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  {
    auto s = db.open();
    store(*s, "a", 1, {sample("cpu", 1, k_t0), sample("mem", 2, k_t0)});
  }
  auto s = db.open();
  store(*s, "a", 2, {sample("cpu", 3, k_t0 + 1000)});
  REQUIRE(db.query_int("SELECT COUNT(*) FROM series") == 2);
  auto cpu = s->read_samples(series_of("a", "cpu"));
  REQUIRE(cpu);
  REQUIRE(cpu->size() == 2);
}

TEMPLATE_TEST_CASE("store: retention deletes what is older than each kind keeps, in bounded steps",
                   "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  const std::int64_t day = storage::k_day_ms;
  const std::int64_t now = k_t0 + 10 * day;
  // Old: raw and signals from 9 days ago; recent: from now.
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    protocol::Batch batch;
    batch.samples = {sample("cpu", 1, k_t0 + day + static_cast<std::int64_t>(seq))};
    protocol::Signal signal;
    signal.rule = "r";
    signal.fingerprint = "f";
    signal.time_ms = k_t0 + day;
    batch.signals = {signal};
    REQUIRE(s->record_batch(envelope("a", seq), batch, k_t0 + day));
  }
  store(*s, "a", 6, {sample("cpu", 2, now)}, now);
  // Agent b started at seq 3 nine days ago: SQLite keeps the gap {1, 2} it passed over.
  store(*s, "b", 3, {}, k_t0 + day);
  REQUIRE(s->flush_rollups(k_never));
  REQUIRE(db.query_int("SELECT COUNT(*) FROM rollups_minute") == 2);

  storage::RetentionPolicy policy;
  policy.raw_ms = 7 * day;
  policy.minute_ms = 8 * day;
  policy.events_ms = 30 * day; // signals stay
  policy.max_rows_per_call = 2;
  std::size_t deleted = 0;
  for (int call = 0; call < 10; ++call) {
    auto outcome = s->apply_retention(policy, now);
    INFO((outcome ? "" : outcome.error().message()));
    REQUIRE(outcome);
    deleted += outcome->deleted;
    if (!outcome->more) {
      break;
    }
  }
  // 5 raw rows and 1 minute roll-up were old enough, and what says those batches were stored:
  // 6 claims (PostgreSQL) or b's gap (SQLite).
  REQUIRE(deleted == (db.is_postgres() ? 12 : 7));
  REQUIRE(db.query_int("SELECT COUNT(*) FROM sample_batches") == 1);
  if (db.is_postgres()) {
    REQUIRE(db.query_int("SELECT COUNT(*) FROM received_batches") == 1);
  } else {
    REQUIRE(db.query_int("SELECT COUNT(*) FROM batch_gaps") == 0);
    // A batch older than the raw retention is taken for a redelivery.
    protocol::Batch late;
    late.samples = {sample("cpu", 1, now)};
    auto outcome = s->record_batch(envelope("b", 1), late, now);
    REQUIRE(outcome);
    CHECK(*outcome == storage::BatchOutcome::duplicate);
  }
  REQUIRE(db.query_int("SELECT COUNT(*) FROM rollups_minute") == 1);
  REQUIRE(db.query_int("SELECT COUNT(*) FROM signals") == 5);

  policy.events_ms = 2 * day;
  policy.max_rows_per_call = 100;
  auto events = s->apply_retention(policy, now);
  REQUIRE(events);
  REQUIRE(events->deleted == 5);
  REQUIRE_FALSE(events->more);
  REQUIRE(db.query_int("SELECT COUNT(*) FROM signals") == 0);

  // 0 keeps for ever.
  storage::RetentionPolicy forever{0, 0, 0, 0, 100};
  REQUIRE(s->apply_retention(forever, now + 1000 * day)->deleted == 0);
}

TEMPLATE_TEST_CASE("store: daily healing metrics are upserted by day, newest first", "[storage]",
                   Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  storage::DailyHealingMetrics monday{"2026-11-23", 10, 8, 6, 2, 1, 9, 7, 1500.5, 42000, 100};
  storage::DailyHealingMetrics sunday{"2026-11-22", 1, 1, 1, 0, 0, 1, 1, 100, 200, 50};
  REQUIRE(s->put_daily_metrics(sunday));
  REQUIRE(s->put_daily_metrics(monday));
  monday.resolved = 9;
  monday.updated_ms = 200;
  REQUIRE(s->put_daily_metrics(monday));
  auto days = s->list_daily_metrics(10);
  REQUIRE(days);
  REQUIRE(*days == std::vector<storage::DailyHealingMetrics>{monday, sunday});
  REQUIRE(s->list_daily_metrics(1)->size() == 1);
}

TEMPLATE_TEST_CASE("store: a group of batches is stored in one go, a failing one alone undone",
                   "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  db.poison_samples();
  protocol::Batch good;
  good.samples = {sample("cpu", 1, k_t0)};
  protocol::Batch bad;
  bad.samples = {sample("new.series", 2, k_t0), sample("poison", 3, k_t0)};
  const auto a1 = envelope("a", 1);
  const auto b1 = envelope("b", 1);
  const auto c1 = envelope("c", 1);
  const std::vector<storage::Store::BatchToStore> group = {
      {&a1, &good, k_t0}, {&b1, &bad, k_t0}, {&a1, &good, k_t0}, {&c1, &good, k_t0}};
  const auto outcomes = s->record_batches(group);
  REQUIRE(outcomes.size() == 4);
  REQUIRE(outcomes[0]);
  CHECK(*outcomes[0] == storage::BatchOutcome::stored);
  REQUIRE_FALSE(outcomes[1]);
  CHECK_THAT(outcomes[1].error().message(), Catch::Contains("batch 1 from agent b"));
  CHECK_THAT(outcomes[1].error().message(), Catch::Contains("poisoned"));
  INFO((outcomes[2] ? "" : outcomes[2].error().message()));
  REQUIRE(outcomes[2]);
  CHECK(*outcomes[2] == storage::BatchOutcome::duplicate); // the same group's first copy
  REQUIRE(outcomes[3]);
  CHECK(*outcomes[3] == storage::BatchOutcome::stored);

  auto agents = s->list_agents();
  REQUIRE(agents);
  std::vector<std::string> ids;
  for (const auto& agent : *agents) {
    ids.push_back(agent.id);
  }
  CHECK(ids == std::vector<std::string>{"a", "c"});
  CHECK(db.query_int("SELECT COUNT(*) FROM series WHERE name = 'new.series'") == 0);
  REQUIRE(s->flush_rollups(k_never));
  CHECK(db.query_int("SELECT COUNT(*) FROM rollups_minute") == 2);
  CHECK(db.query_int("SELECT SUM(count) FROM rollups_minute") == 2);

  // b's retry, once the database takes it, is stored (its claim was undone with it).
  db.cure_samples();
  const auto retried = s->record_batches(
      std::vector<storage::Store::BatchToStore>{{&b1, &bad, k_t0}, {&c1, &good, k_t0}});
  REQUIRE(retried.size() == 2);
  REQUIRE(retried[0]);
  CHECK(*retried[0] == storage::BatchOutcome::stored);
  REQUIRE(retried[1]);
  CHECK(*retried[1] == storage::BatchOutcome::duplicate);
}

// Latest values and roll-ups are written behind in bounded steps, on both backends.
TEMPLATE_TEST_CASE("store: flushes write a bounded number of rows a call and go on at the next",
                   "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  // Three flushes' worth of series (50 per agent), each with one sample in the minute at k_t0.
  static_assert(storage::SqliteStore::k_flush_rows == storage::PostgresStore::k_flush_rows);
  constexpr std::int64_t k_rows = static_cast<std::int64_t>(storage::SqliteStore::k_flush_rows);
  constexpr int k_per_agent = 50;
  static_assert(k_rows % k_per_agent == 0);
  constexpr int k_agents = static_cast<int>(3 * k_rows / k_per_agent);
  for (int a = 0; a < k_agents; ++a) {
    std::vector<protocol::Sample> samples;
    for (int i = 0; i < k_per_agent; ++i) {
      samples.push_back(sample("m." + std::to_string(i), i, k_t0));
    }
    store(*s, "agent-" + std::to_string(a), 1, std::move(samples));
  }
  const std::int64_t series = std::int64_t{k_agents} * k_per_agent;
  // Two hours later: the minute has ended and its hour too.
  const std::int64_t later = k_t0 + 2 * 3'600'000;
  auto first = s->flush_rollups(later);
  REQUIRE(first);
  // Each call writes k_flush_rows rows, latest values first, and holds the hour back.
  CHECK(db.query_int("SELECT COUNT(*) FROM latest_samples") == k_rows);
  CHECK(db.query_int("SELECT COUNT(*) FROM rollups_minute") == 0);
  CHECK(first->hours == 0);
  CHECK(first->open_buckets == static_cast<std::size_t>(series));
  for (int i = 0; i < 4; ++i) {
    auto next = s->flush_rollups(later);
    REQUIRE(next);
    CHECK(next->minute_rows == (i < 2 ? 0U : static_cast<std::size_t>(k_rows)));
    CHECK(next->hours == 0);
  }
  CHECK(db.query_int("SELECT COUNT(*) FROM latest_samples") == series);
  auto third = s->flush_rollups(later);
  REQUIRE(third);
  CHECK(third->minute_rows == static_cast<std::size_t>(k_rows));
  CHECK(db.query_int("SELECT COUNT(*) FROM rollups_minute") == series);
  // Every minute written: now the hour rolls up, with all of them.
  CHECK(third->hours >= 1);
  CHECK(db.query_int("SELECT COUNT(*) FROM rollups_hour") == series);
  CHECK(third->open_buckets == 0);
  // A read of the agents writes whatever is still waiting, whatever the budget.
  store(*s, "agent-0", 2, {sample("m.0", 42, later)});
  auto agents = s->list_agents();
  REQUIRE(agents);
  CHECK(db.query_int(
            "SELECT value FROM latest_samples WHERE agent_id = 'agent-0' AND name = 'm.0'") == 42);
}
