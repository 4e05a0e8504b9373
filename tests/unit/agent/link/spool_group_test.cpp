// SPDX-License-Identifier: Apache-2.0
// Spool::commit: removes, appends and state writes of one group in one transaction.
#include "agent/link/spool.hpp"

#include <cstdint>
#include <string>

#include <catch2/catch.hpp>

#include "shared/sqlite/database.hpp"
#include "tests/support/temp_dir.hpp"

using medic::ErrorCode;
using medic::Result;
using medic::agent::link::Spool;
using medic::agent::link::SpoolAppend;
using medic::agent::link::SpoolChange;
using medic::agent::link::SpoolClass;
using medic::agent::link::SpoolGroup;
using medic::agent::link::SpoolLimits;
using medic::test::TempDir;

namespace {

SpoolChange batch(std::uint64_t seq, std::size_t size, SpoolClass kind = SpoolClass::events) {
  return {SpoolAppend{seq, kind, 2, 1000, std::string(size, 'x')}, {}};
}

SpoolChange state(int value) {
  return {std::nullopt, [value](medic::sqlite::Database& db) -> Result<void> {
            return db.exec("DELETE FROM state; INSERT INTO state VALUES (" + std::to_string(value) +
                           ")");
          }};
}

std::int64_t state_of(Spool& spool) {
  auto rows = spool.database().prepare("SELECT value FROM state");
  REQUIRE(rows);
  auto row = rows->step();
  REQUIRE(row);
  return *row ? rows->column_int(0) : -1;
}

} // namespace

TEST_CASE("Spool commits a group of acks, appends and writes in one transaction",
          "[agent][link][spool]") {
  TempDir dir;
  auto spool = Spool::open(dir / "spool.db", SpoolLimits{});
  REQUIRE(spool);
  REQUIRE(spool->database().exec("CREATE TABLE state (value INTEGER)"));
  SpoolGroup first;
  first.changes.push_back(batch(1, 10, SpoolClass::samples));
  first.changes.push_back(state(1));
  first.changes.push_back(batch(2, 20));
  first.changes.push_back(state(2)); // the later write wins
  auto done = spool->commit(first);
  REQUIRE(done);
  CHECK(spool->commits() == 1);
  CHECK(done->refused == 0);
  CHECK(done->stats.batches == 2);
  CHECK(done->stats.bytes == 30);
  CHECK(spool->next_seq() == 3);
  CHECK(state_of(*spool) == 2);

  SpoolGroup second;
  second.acked = {1, 2, 99}; // 99 was never stored: not an error
  second.changes.push_back(batch(3, 5));
  done = spool->commit(second);
  REQUIRE(done);
  CHECK(spool->commits() == 2);
  CHECK(done->stats.batches == 1);
  CHECK(done->stats.first_seq == 3);
  CHECK(done->stats.last_seq == 3);
  CHECK(spool->stats() == done->stats);

  SpoolGroup nothing;
  nothing.acked = {42};
  REQUIRE(spool->commit(nothing));
  CHECK(spool->commits() == 2); // changed nothing, so committed nothing
}

TEST_CASE("Spool refuses an oversized batch of a group and keeps the rest",
          "[agent][link][spool]") {
  TempDir dir;
  SpoolLimits limits;
  limits.max_bytes = 100;
  auto spool = Spool::open(dir / "spool.db", limits);
  REQUIRE(spool);
  SpoolGroup group;
  group.changes.push_back(batch(1, 50));
  group.changes.push_back(batch(2, 500)); // larger than the spool
  group.changes.push_back(batch(3, 60));  // over the limit with batch 1: batch 1 goes
  auto done = spool->commit(group);
  REQUIRE(done);
  CHECK(done->refused == 1);
  CHECK(done->stats.batches == 1);
  CHECK(done->stats.first_seq == 3);
  CHECK(done->stats.dropped_batches == 2);
  CHECK(done->stats.dropped_items == 4);
  CHECK(done->stats.dropped_bytes == 550);
  CHECK(spool->next_seq() == 4);
}

TEST_CASE("Spool rolls a whole group back when one of its parts fails", "[agent][link][spool]") {
  TempDir dir;
  auto spool = Spool::open(dir / "spool.db", SpoolLimits{});
  REQUIRE(spool);
  SpoolGroup group;
  group.changes.push_back(batch(1, 10));
  group.changes.push_back({std::nullopt, [](medic::sqlite::Database& db) -> Result<void> {
                             return db.exec("INSERT INTO no_such_table VALUES (1)");
                           }});
  REQUIRE_FALSE(spool->commit(group));
  CHECK(spool->stats().batches == 0);
  CHECK(spool->next_seq() == 1);
  CHECK(spool->commits() == 0);

  SpoolGroup backwards;
  backwards.changes.push_back(batch(5, 10));
  backwards.changes.push_back(batch(4, 10));
  auto refused = spool->commit(backwards);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == ErrorCode::invalid_argument);
  CHECK(spool->stats().batches == 0);
}
