// SPDX-License-Identifier: Apache-2.0
// State committed with spool changes (the tailer's cursors ride on this): atomic with the batch,
// rolled back with it, kept when a frame is refused, and writable on its own.
#include <string>

#include <catch2/catch.hpp>

#include "agent/link/spool.hpp"
#include "shared/sqlite/database.hpp"
#include "tests/support/temp_dir.hpp"

using medic::Result;
using medic::agent::link::Spool;
using medic::agent::link::SpoolClass;
using medic::agent::link::SpoolWrite;
using medic::test::TempDir;
namespace sqlite = medic::sqlite;

namespace {

SpoolWrite set_state(std::string value) {
  return [value = std::move(value)](sqlite::Database& db) -> Result<void> {
    if (auto made = db.exec("CREATE TABLE IF NOT EXISTS test_state (v TEXT)"); !made) {
      return made;
    }
    if (auto cleared = db.exec("DELETE FROM test_state"); !cleared) {
      return cleared;
    }
    auto insert = db.prepare("INSERT INTO test_state (v) VALUES (?1)");
    if (!insert) {
      return medic::fail(std::move(insert).error());
    }
    insert->bind(1, std::string_view(value));
    return insert->run();
  };
}

std::string state_of(Spool& spool) {
  auto select = spool.database().prepare("SELECT v FROM test_state");
  if (!select) {
    return "<no table>";
  }
  auto row = select->step();
  return row && *row ? select->column_text(0) : "<none>";
}

} // namespace

TEST_CASE("state written with a batch commits with it and survives reopening", "[spool]") {
  TempDir dir;
  const auto path = dir.path() / "spool.db";
  {
    auto spool = Spool::open(path, {});
    REQUIRE(spool);
    REQUIRE(spool->append(1, SpoolClass::events, 1, 10, "frame-1", set_state("offset=100")));
    CHECK(state_of(*spool) == "offset=100");
  }
  auto reopened = Spool::open(path, {});
  REQUIRE(reopened);
  CHECK(state_of(*reopened) == "offset=100");
  CHECK(reopened->stats().batches == 1);
}

TEST_CASE("a failing state write rolls the batch back", "[spool]") {
  TempDir dir;
  auto spool = Spool::open(dir.path() / "spool.db", {});
  REQUIRE(spool);
  const SpoolWrite broken = [](sqlite::Database& db) { return db.exec("INSERT INTO nowhere"); };
  auto appended = spool->append(1, SpoolClass::events, 1, 10, "frame-1", broken);
  REQUIRE_FALSE(appended);
  CHECK(spool->stats().batches == 0);
  auto read = spool->read_after(0, 10, 1 << 20);
  REQUIRE(read);
  CHECK(read->empty());
}

TEST_CASE("state written with a refused frame is kept", "[spool]") {
  TempDir dir;
  auto spool = Spool::open(dir.path() / "spool.db", {64, std::chrono::hours(1)});
  REQUIRE(spool);
  auto refused =
      spool->append(1, SpoolClass::events, 3, 10, std::string(100, 'x'), set_state("past-it"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == medic::ErrorCode::busy);
  CHECK(state_of(*spool) == "past-it");
  CHECK(spool->stats().dropped_items == 3);
}

TEST_CASE("state can be written without a batch", "[spool]") {
  TempDir dir;
  auto spool = Spool::open(dir.path() / "spool.db", {});
  REQUIRE(spool);
  REQUIRE(spool->write_state(set_state("a")));
  REQUIRE(spool->write_state(set_state("b")));
  CHECK(state_of(*spool) == "b");
  const SpoolWrite broken = [](sqlite::Database& db) { return db.exec("INSERT INTO nowhere"); };
  CHECK_FALSE(spool->write_state(broken));
  CHECK(state_of(*spool) == "b");
}
