// SPDX-License-Identifier: Apache-2.0
// Both backends: silences round-trip every field, are listed active-only or all, expire once (and
// stay expired across a reopen), and a duplicate id is refused.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/storage/store_backends.hpp"

namespace storage = medic::coordinator::storage;
using medic::ErrorCode;
using medic::test::Postgres;
using medic::test::Sqlite;
using medic::test::TestDatabase;

namespace {

storage::SilenceRecord silence(std::string id, std::int64_t starts_ms, std::int64_t ends_ms,
                               std::int64_t created_ms) {
  storage::SilenceRecord record;
  record.id = std::move(id);
  record.matchers_json = R"([{"field":"host","op":"=","value":"web-1"}])";
  record.starts_ms = starts_ms;
  record.ends_ms = ends_ms;
  record.created_by = "operator:uid=1000";
  record.created_ms = created_ms;
  record.comment = "kernel upgrade — ticket OPS-12";
  return record;
}

std::vector<std::string> ids(const std::vector<storage::SilenceRecord>& records) {
  std::vector<std::string> out;
  for (const auto& record : records) {
    out.push_back(record.id);
  }
  return out;
}

} // namespace

TEMPLATE_TEST_CASE("store: silences are kept listed and expired", "[storage][silence]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  const auto a = silence("a-silence", 1000, 50'000, 900);
  const auto b = silence("b-silence", 1000, 20'000, 950);
  const auto pending = silence("c-pending", 30'000, 90'000, 990);
  const auto ended = silence("d-ended", 100, 2000, 100);
  {
    auto opened = db.open();
    auto& store = *opened;
    for (const auto& record : {a, b, pending, ended}) {
      REQUIRE(store.add_silence(record));
    }
    // The same id again is refused, and the first row is untouched.
    auto again = store.add_silence(silence("a-silence", 0, 1, 1));
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == ErrorCode::invalid_argument);

    // Active and pending ones, by end: d ended at 2000.
    auto active = store.list_silences(false, 10'000, 100);
    REQUIRE(active);
    CHECK(ids(*active) == std::vector<std::string>{"b-silence", "a-silence", "c-pending"});
    CHECK(active->at(1) == a); // every field round-trips
    // All of them, newest created first; the limit holds.
    auto all = store.list_silences(true, 10'000, 100);
    REQUIRE(all);
    CHECK(ids(*all) == std::vector<std::string>{"c-pending", "b-silence", "a-silence", "d-ended"});
    auto two = store.list_silences(true, 10'000, 2);
    REQUIRE(two);
    CHECK(two->size() == 2);

    // Expiring early ends it now and says who did.
    auto expired = store.expire_silence("a-silence", "operator:uid=7", 12'000);
    REQUIRE(expired);
    REQUIRE(expired->has_value());
    CHECK((*expired)->expired_ms == 12'000);
    CHECK((*expired)->expired_by == "operator:uid=7");
    CHECK((*expired)->ends_ms == 12'000);
    CHECK((*expired)->comment == a.comment);
    // Expiring it again, or one that ended by itself, changes nothing.
    auto twice = store.expire_silence("a-silence", "operator:uid=8", 13'000);
    REQUIRE(twice);
    REQUIRE(twice->has_value());
    CHECK((*twice)->expired_by == "operator:uid=7");
    CHECK((*twice)->ends_ms == 12'000);
    auto by_itself = store.expire_silence("d-ended", "operator:uid=8", 13'000);
    REQUIRE(by_itself);
    REQUIRE(by_itself->has_value());
    CHECK((*by_itself)->expired_ms == 0);
    CHECK((*by_itself)->ends_ms == 2000);
    // Unknown id: nothing.
    auto unknown = store.expire_silence("no-such", "operator:uid=8", 13'000);
    REQUIRE(unknown);
    CHECK_FALSE(unknown->has_value());
  }
  // Committed: a reopened store (a restarted coordinator) has the same state.
  auto reopened = db.open();
  auto active = reopened->list_silences(false, 12'500, 100);
  REQUIRE(active);
  CHECK(ids(*active) == std::vector<std::string>{"b-silence", "c-pending"});
  CHECK(db.query_int("SELECT COUNT(*) FROM silences WHERE expired_ms <> 0") == 1);
  auto all = reopened->list_silences(true, 12'500, 100);
  REQUIRE(all);
  CHECK(all->size() == 4);
}

TEMPLATE_TEST_CASE("store: silence text is kept as given", "[storage][silence]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto store = db.open();
  auto record = silence("e-text", 0, 10'000, 1);
  record.matchers_json = R"([{"field":"label","name":"env","op":"=~","value":"prod-(eu|us)\\d+"}])";
  record.comment = "quotes ' \" and unicode ✓ and a newline\nhere";
  REQUIRE(store->add_silence(record));
  auto listed = store->list_silences(false, 5, 10);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front() == record);
}
