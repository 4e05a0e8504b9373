// SPDX-License-Identifier: Apache-2.0
// Signals and log events, on both backends: stored once with their batch, read back newest first.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/storage/store_backends.hpp"

namespace storage = medic::coordinator::storage;
namespace protocol = medic::protocol;
using medic::test::envelope;
using medic::test::Postgres;
using medic::test::Sqlite;
using medic::test::TestDatabase;

namespace {

protocol::Signal signal(std::string rule, std::int64_t time_ms,
                        protocol::SignalState state = protocol::SignalState::firing) {
  protocol::Signal s;
  s.rule = std::move(rule);
  s.state = state;
  s.severity = protocol::Severity::critical;
  s.category = protocol::Category::database;
  s.fingerprint = "fp-" + s.rule;
  s.value = 5;
  s.time_ms = time_ms;
  s.labels = {{"user", "app"}, {"db", "main"}};
  s.message = "FATAL: password authentication failed";
  return s;
}

protocol::LogEvent gap_event(std::int64_t time_ms) {
  protocol::LogEvent event;
  event.kind = protocol::LogEventKind::gap;
  event.source = "app";
  event.path = "/var/log/app.log";
  event.time_ms = time_ms;
  event.offset = 1ULL << 40;
  event.text = "truncated";
  event.gap_bytes = 777;
  return event;
}

} // namespace

TEMPLATE_TEST_CASE("store: signals and log events are stored once with their batch", "[storage]",
                   Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  protocol::Batch batch;
  batch.signals = {signal("db-auth", 100), signal("db-auth", 200, protocol::SignalState::cleared)};
  protocol::LogEvent line;
  line.source = "postgres";
  line.path = "/var/log/postgresql.log";
  line.time_ms = 150;
  line.offset = 42;
  line.text = "FATAL: password authentication failed for user \"app\"";
  line.rule = "db-auth";
  line.template_id = 9;
  line.labels = {{"user", "app"}};
  batch.logs = {line, gap_event(160)};

  REQUIRE(store->record_batch(envelope("db-1", 1), batch, 1000));
  // Redelivered: a duplicate, nothing added twice.
  auto again = store->record_batch(envelope("db-1", 1), batch, 2000);
  REQUIRE(again);
  CHECK(*again == storage::BatchOutcome::duplicate);

  auto signals = store->recent_signals({});
  REQUIRE(signals);
  REQUIRE(signals->size() == 2);
  CHECK((*signals)[0].signal.state == protocol::SignalState::cleared); // newest first
  CHECK((*signals)[0].signal.time_ms == 200);
  protocol::Signal expected = batch.signals[0];
  expected.labels = {{"db", "main"}, {"user", "app"}}; // sorted on the way back
  CHECK((*signals)[1].signal == expected);
  CHECK((*signals)[1].agent_id == "db-1");
  CHECK((*signals)[1].batch_seq == 1);
  CHECK((*signals)[1].received_ms == 1000);

  auto logs = store->recent_log_events({});
  REQUIRE(logs);
  REQUIRE(logs->size() == 2);
  CHECK((*logs)[0].event == gap_event(160));
  CHECK((*logs)[1].event == line);
}

TEMPLATE_TEST_CASE("store: event queries filter by agent and time and respect the limit",
                   "[storage]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    protocol::Batch batch;
    batch.signals = {signal("cpu-high", static_cast<std::int64_t>(seq) * 10)};
    batch.logs = {gap_event(static_cast<std::int64_t>(seq) * 10)};
    REQUIRE(store->record_batch(envelope(seq % 2 == 0 ? "a" : "b", seq), batch, 1));
  }
  auto of_a = store->recent_signals({"a", 0, 100});
  REQUIRE(of_a);
  CHECK(of_a->size() == 2);
  auto recent = store->recent_signals({"", 30, 100});
  REQUIRE(recent);
  CHECK(recent->size() == 3);
  auto limited = store->recent_log_events({"", 0, 2});
  REQUIRE(limited);
  REQUIRE(limited->size() == 2);
  CHECK((*limited)[0].event.time_ms == 50);

  storage::EventQuery window;
  window.since_ms = 20;
  window.until_ms = 40; // inclusive
  window.oldest_first = true;
  auto in_window = store->recent_signals(window);
  REQUIRE(in_window);
  REQUIRE(in_window->size() == 3);
  CHECK(in_window->front().signal.time_ms == 20);
  CHECK(in_window->back().signal.time_ms == 40);
  auto logs_in_window = store->recent_log_events(window);
  REQUIRE(logs_in_window);
  REQUIRE(logs_in_window->size() == 3);
  CHECK(logs_in_window->front().event.time_ms == 20);

  // One agent's events and the fleet's are read by different statements: all four orders.
  window.agent_id = "a";
  auto of_a_in_window = store->recent_signals(window);
  REQUIRE(of_a_in_window);
  REQUIRE(of_a_in_window->size() == 2);
  CHECK(of_a_in_window->front().signal.time_ms == 20);
  CHECK(of_a_in_window->back().signal.time_ms == 40);
  auto newest_of_b = store->recent_log_events({"b", 0, 1});
  REQUIRE(newest_of_b);
  REQUIRE(newest_of_b->size() == 1);
  CHECK(newest_of_b->front().event.time_ms == 50);
  CHECK(newest_of_b->front().agent_id == "b");
}
