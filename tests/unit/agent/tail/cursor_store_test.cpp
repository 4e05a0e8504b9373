// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/cursor_store.hpp"

#include <limits>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

using medic::agent::tail::TailCursor;
using medic::sqlite::Database;
using medic::sqlite::OpenMode;
namespace cursor_store = medic::agent::tail::cursor_store;

namespace {

constexpr auto k_max = std::numeric_limits<std::uint64_t>::max();

Database open_db(const std::filesystem::path& path) {
  auto db = Database::open(path, OpenMode::read_write_create);
  REQUIRE(db);
  REQUIRE(cursor_store::ensure_schema(*db));
  REQUIRE(cursor_store::ensure_schema(*db)); // idempotent
  return std::move(*db);
}

} // namespace

TEST_CASE("cursors round-trip through SQLite, full 64-bit values included", "[tail]") {
  const medic::test::TempDir dir;
  const std::vector<TailCursor> cursors{
      {"/var/log/a.log", 2049, 131, 4096, 0x9e3779b97f4a7c15ULL},
      {"/var/log/b.log", k_max, k_max - 1, 0, k_max},
  };
  {
    Database db = open_db(dir / "spool.db");
    REQUIRE(cursor_store::save(db, cursors));
  }
  Database db = open_db(dir / "spool.db");
  auto loaded = cursor_store::load(db);
  REQUIRE(loaded);
  CHECK(*loaded == cursors);
}

TEST_CASE("save replaces every cursor and joins the caller's transaction", "[tail]") {
  const medic::test::TempDir dir;
  Database db = open_db(dir / "spool.db");
  const std::vector<TailCursor> first{{"/a", 1, 1, 10, 7}, {"/b", 1, 2, 20, 8}};
  REQUIRE(cursor_store::save(db, first));
  const std::vector<TailCursor> second{{"/c", 1, 3, 30, 9}};
  {
    auto tx = medic::sqlite::Transaction::begin(db);
    REQUIRE(tx);
    REQUIRE(cursor_store::save(db, second));
    // Rolled back: the transaction is not committed.
  }
  CHECK(*cursor_store::load(db) == first);
  {
    auto tx = medic::sqlite::Transaction::begin(db);
    REQUIRE(tx);
    REQUIRE(cursor_store::save(db, second));
    REQUIRE(tx->commit());
  }
  CHECK(*cursor_store::load(db) == second);
}

TEST_CASE("a damaged cursor row is refused with the row named", "[tail]") {
  const medic::test::TempDir dir;
  Database db = open_db(dir / "spool.db");
  REQUIRE(db.exec("INSERT INTO tail_cursors VALUES ('/x', 1, 2, -5, 0)"));
  auto loaded = cursor_store::load(db);
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.error().message(), Catch::Contains("row 1") && Catch::Contains("negative"));
}
