// SPDX-License-Identifier: Apache-2.0
// WAL checkpoints in a thread of their own (shared/sqlite/wal_checkpointer.hpp), on real SQLite
// files: the WAL starts over under steady writes instead of growing with everything written,
// the backstop bounds it when the thread is never woken, and SQLite's own checkpoint is back
// once the checkpointer is gone.
#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "shared/sqlite/database.hpp"
#include "shared/sqlite/wal_checkpointer.hpp"
#include "tests/support/temp_dir.hpp"

namespace sqlite = medic::sqlite;
using medic::test::TempDir;

namespace {

constexpr int k_transactions = 400;
constexpr int k_rows_per_transaction = 20;
constexpr std::size_t k_row_bytes = 2000;
// About 16 MB reach the WAL in all: a WAL that never started over would be at least this long.
constexpr std::uintmax_t k_written_bytes =
    std::uintmax_t{k_transactions} * k_rows_per_transaction * k_row_bytes;

sqlite::Database open_with_table(const std::filesystem::path& path) {
  auto db = sqlite::Database::open(path, sqlite::OpenMode::read_write_create);
  REQUIRE(db);
  REQUIRE(db->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)"));
  return std::move(*db);
}

// Commits k_transactions transactions of k_rows_per_transaction rows, pausing `pause` after
// each; returns the largest size the WAL file had after a commit.
std::uintmax_t write_rows(sqlite::Database& db, const std::filesystem::path& wal,
                          std::chrono::microseconds pause) {
  auto insert = db.prepare("INSERT INTO t (pad) VALUES (zeroblob(?1))");
  REQUIRE(insert);
  std::uintmax_t largest = 0;
  for (int t = 0; t < k_transactions; ++t) {
    auto tx = sqlite::Transaction::begin(db);
    REQUIRE(tx);
    for (int r = 0; r < k_rows_per_transaction; ++r) {
      insert->bind(1, static_cast<std::int64_t>(k_row_bytes));
      REQUIRE(insert->run());
    }
    REQUIRE(tx->commit());
    std::error_code ec;
    const auto size = std::filesystem::file_size(wal, ec);
    largest = std::max(largest, ec ? 0 : size);
    std::this_thread::sleep_for(pause);
  }
  return largest;
}

std::int64_t row_count(const std::filesystem::path& path) {
  auto reader = sqlite::Database::open(path, sqlite::OpenMode::read_only);
  REQUIRE(reader);
  auto count = reader->prepare("SELECT COUNT(*) FROM t");
  REQUIRE(count);
  auto row = count->step();
  REQUIRE(row);
  REQUIRE(*row);
  return count->column_int(0);
}

// A fresh database written by write_rows with a checkpointer started with `settings`.
struct Outcome {
  std::uintmax_t largest_wal = 0;
  sqlite::CheckpointCounters counters;
  std::int64_t rows = 0;
};

Outcome run_with(sqlite::CheckpointSettings settings, std::chrono::microseconds pause) {
  const TempDir dir;
  const auto path = dir / "ckpt.db";
  auto db = open_with_table(path);
  auto checkpointer = sqlite::WalCheckpointer::start(db, settings);
  REQUIRE(checkpointer);
  Outcome outcome;
  outcome.largest_wal = write_rows(db, dir / "ckpt.db-wal", pause);
  outcome.counters = (*checkpointer)->counters();
  outcome.rows = row_count(path);
  return outcome;
}

} // namespace

TEST_CASE("the WAL starts over under steady writes when a thread checkpoints it",
          "[sqlite][checkpoint]") {
  const auto outcome = run_with({.after_pages = 64}, std::chrono::microseconds(500));
  const auto& counters = outcome.counters;
  INFO("largest WAL " << outcome.largest_wal << " bytes; thread passes " << counters.runs
                      << ", catch-ups " << counters.catch_ups << ", backstop "
                      << counters.inline_runs);
  CHECK(counters.runs > 0);
  CHECK(counters.catch_ups > 0); // the writer copied what a pass left, so the WAL could restart
  CHECK(counters.inline_runs == 0);
  CHECK(outcome.largest_wal < k_written_bytes / 4);
  // Everything written is there, read by another connection.
  CHECK(outcome.rows == k_transactions * k_rows_per_transaction);
}

TEST_CASE("the writer checkpoints itself past the backstop when the thread is never woken",
          "[sqlite][checkpoint]") {
  const auto outcome =
      run_with({.after_pages = INT_MAX, .inline_after_pages = 100}, std::chrono::microseconds(0));
  CHECK(outcome.counters.inline_runs > 0);
  CHECK(outcome.largest_wal < k_written_bytes / 4);
  CHECK(outcome.rows == k_transactions * k_rows_per_transaction);
}

TEST_CASE("SQLite's own checkpoint is back once the checkpointer is gone", "[sqlite][checkpoint]") {
  const TempDir dir;
  const auto path = dir / "after.db";
  auto db = open_with_table(path);
  {
    auto checkpointer = sqlite::WalCheckpointer::start(db, {.after_pages = 64});
    REQUIRE(checkpointer);
  }
  const auto largest = write_rows(db, dir / "after.db-wal", std::chrono::microseconds(0));
  CHECK(largest < k_written_bytes / 4);
  CHECK(row_count(path) == k_transactions * k_rows_per_transaction);
}
