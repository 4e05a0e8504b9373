// SPDX-License-Identifier: Apache-2.0
// Statements kept with their connection (Database::cached), on a real SQLite file: one statement
// per text, reusable after each run, bounded, moved with the connection, and the transactions
// built on them still commit and roll back.
#include <string>

#include <catch2/catch.hpp>

#include "shared/sqlite/database.hpp"
#include "tests/support/temp_dir.hpp"

namespace sqlite = medic::sqlite;
using medic::test::TempDir;

namespace {

std::int64_t count_rows(sqlite::Database& db) {
  auto select = db.prepare("SELECT count(*) FROM t");
  REQUIRE(select);
  REQUIRE(select->step().value());
  return select->column_int(0);
}

} // namespace

TEST_CASE("a cached statement is prepared once and runs again and again", "[sqlite]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir.path() / "cache.db", sqlite::OpenMode::read_write_create);
  REQUIRE(db);
  REQUIRE(db->exec("CREATE TABLE t (v INTEGER)"));

  constexpr std::string_view k_insert = "INSERT INTO t (v) VALUES (?1)";
  auto first = db->cached(k_insert);
  REQUIRE(first);
  auto again = db->cached(std::string(k_insert)); // the text decides, not where it is
  REQUIRE(again);
  CHECK(*again == *first);
  auto other = db->cached("DELETE FROM t");
  REQUIRE(other);
  CHECK(*other != *first);

  for (int i = 0; i < 5; ++i) {
    auto insert = db->cached(k_insert);
    REQUIRE(insert);
    REQUIRE((*insert)->bind(1, i).run());
  }
  CHECK(count_rows(*db) == 5);

  // A failing run leaves the statement reset and usable.
  REQUIRE(db->exec("CREATE UNIQUE INDEX one_v ON t (v)"));
  auto insert = db->cached(k_insert);
  REQUIRE(insert);
  CHECK_FALSE((*insert)->bind(1, 3).run());
  CHECK((*insert)->bind(1, 7).run());
  CHECK(count_rows(*db) == 6);

  // Moved with the connection, and still working.
  sqlite::Database moved = std::move(*db);
  auto after_move = moved.cached(k_insert);
  REQUIRE(after_move);
  CHECK(*after_move == *first);
  CHECK((*after_move)->bind(1, 8).run());
  CHECK(count_rows(moved) == 7);
}

TEST_CASE("the statement cache is bounded and says so", "[sqlite]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir.path() / "bound.db", sqlite::OpenMode::read_write_create);
  REQUIRE(db);
  for (std::size_t i = 0; i < sqlite::Database::k_max_cached; ++i) {
    REQUIRE(db->cached("SELECT " + std::to_string(i)));
  }
  auto refused = db->cached("SELECT 'one too many'");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("cached statements") &&
                                            Catch::Contains("bound.db") &&
                                            Catch::Contains("one too many"));
  CHECK(db->cached("SELECT 0")); // the ones cached still are
  auto bad = sqlite::Database::open(dir.path() / "bad.db", sqlite::OpenMode::read_write_create);
  REQUIRE(bad);
  auto invalid = bad->cached("SELEKT nonsense");
  REQUIRE_FALSE(invalid);
  CHECK_THAT(invalid.error().message(), Catch::Contains("SELEKT"));
}

TEST_CASE("transactions on cached statements commit and roll back", "[sqlite]") {
  TempDir dir;
  auto db = sqlite::Database::open(dir.path() / "tx.db", sqlite::OpenMode::read_write_create);
  REQUIRE(db);
  REQUIRE(db->exec("CREATE TABLE t (v INTEGER)"));
  for (int round = 0; round < 3; ++round) {
    {
      auto tx = sqlite::Transaction::begin(*db);
      REQUIRE(tx);
      REQUIRE(db->exec("INSERT INTO t (v) VALUES (1)"));
      REQUIRE(tx->commit());
    }
    {
      auto tx = sqlite::Transaction::begin(*db);
      REQUIRE(tx);
      REQUIRE(db->exec("INSERT INTO t (v) VALUES (2)"));
    } // rolled back by the destructor
    auto tx = sqlite::Transaction::begin(*db);
    REQUIRE(tx);
    REQUIRE(db->exec("INSERT INTO t (v) VALUES (3)"));
    tx->rollback();
  }
  CHECK(count_rows(*db) == 3);
}
