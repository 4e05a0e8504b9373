// SPDX-License-Identifier: Apache-2.0
// Exactly once across restarts: a tailer is stopped, its cursors saved into a real SQLite file
// through cursor_store, files change while it is down, and a new tailer restored from the file
// goes on without repeating or losing a line (or reports the loss as a gap).
#include <algorithm>

#include <catch2/catch.hpp>

#include "agent/tail/cursor_store.hpp"
#include "shared/sqlite/database.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/tail/tail_harness.hpp"

using namespace medic::test::tail;
using medic::agent::tail::GapReason;
using medic::agent::tail::StartAt;
using medic::test::TempDir;
namespace cursor_store = medic::agent::tail::cursor_store;

namespace {

void save_cursors(const fs::path& db_path, const std::vector<TailCursor>& cursors) {
  auto db = medic::sqlite::Database::open(db_path, medic::sqlite::OpenMode::read_write_create);
  REQUIRE(db);
  REQUIRE(cursor_store::ensure_schema(*db));
  auto tx = medic::sqlite::Transaction::begin(*db);
  REQUIRE(tx);
  REQUIRE(cursor_store::save(*db, cursors));
  REQUIRE(tx->commit());
}

std::vector<TailCursor> load_cursors(const fs::path& db_path) {
  auto db = medic::sqlite::Database::open(db_path, medic::sqlite::OpenMode::read_write_create);
  REQUIRE(db);
  REQUIRE(cursor_store::ensure_schema(*db));
  auto cursors = cursor_store::load(*db);
  REQUIRE(cursors);
  return *cursors;
}

// Runs a first tailer until `last` is seen, stops it with the file left as it is, and saves
// its cursors. Returns the line numbers it handed out.
std::vector<int> first_run(const fs::path& log, const fs::path& db_path, int last,
                           const std::string& glob) {
  Harness harness;
  harness.start(test_options(glob));
  REQUIRE(harness.run_until_line(last));
  harness.run_for(100ms); // anything buffered stays buffered
  const auto cursors = harness.stop();
  REQUIRE(cursors.size() == 1);
  CHECK(cursors.front().path == log.string());
  save_cursors(db_path, cursors);
  return harness.numbers();
}

} // namespace

TEST_CASE("a restarted tailer resumes exactly where the records stopped", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  const fs::path db = dir / "spool.db";
  Writer writer(log);
  writer.lines(1, 100);
  writer.write("line 000101 half"); // buffered, not handed out: must be read again
  const auto seen = first_run(log, db, 100, log.string());
  REQUIRE(seen == range(1, 100));

  writer.write(" and the rest\n");
  writer.lines(102, 200);
  Harness second;
  // start_at end would skip everything; the restored cursor wins.
  second.start(test_options(log.string(), StartAt::end), load_cursors(db));
  REQUIRE(second.run_until_line(200));
  CHECK(second.numbers() == range(101, 200));
  CHECK(second.records.front().text == "line 000101 half and the rest");
  CHECK(second.gaps.empty());
}

TEST_CASE("a restart after a rename rotation while stopped reads the new file from 0", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  const fs::path db = dir / "spool.db";
  Writer writer(log);
  writer.lines(1, 100);
  REQUIRE(first_run(log, db, 100, log.string()) == range(1, 100));

  fs::rename(log, dir / "app.log.1");
  writer.reopen(log);
  writer.lines(101, 200);
  Harness second;
  second.start(test_options(log.string(), StartAt::end), load_cursors(db));
  REQUIRE(second.run_until_line(200));
  CHECK(second.numbers() == range(101, 200));
  // The old file is out of reach under the glob: the tailer cannot know whether it grew.
  REQUIRE(second.gaps.size() == 1);
  CHECK(second.gaps.front().reason == GapReason::rotated_away);
  CHECK(second.gaps.front().bytes == 0);
}

TEST_CASE("a restart after a rotation finds the old file under a glob that matches it", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  const fs::path db = dir / "spool.db";
  const std::string glob = (dir / "app.log*").string();
  Writer writer(log);
  writer.lines(1, 100);
  REQUIRE(first_run(log, db, 100, glob) == range(1, 100));

  writer.lines(101, 150); // into the old file after the stop
  fs::rename(log, dir / "app.log.1");
  writer.reopen(log);
  writer.lines(151, 200);
  Harness second;
  second.start(test_options(glob), load_cursors(db));
  REQUIRE(second.run_until([&] { return second.records.size() >= 100; }));
  second.run_for(300ms);
  auto numbers = second.numbers();
  std::sort(numbers.begin(), numbers.end()); // two files, read side by side
  CHECK(numbers == range(101, 200));
  CHECK(second.gaps.empty());
}

TEST_CASE("a restart after a copytruncate while stopped starts the file again at 0", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  const fs::path db = dir / "spool.db";
  Writer writer(log);
  writer.lines(1, 100);
  REQUIRE(first_run(log, db, 100, log.string()) == range(1, 100));

  fs::resize_file(log, 0);
  writer.lines(101, 400); // longer than before: only the head hash tells
  Harness second;
  second.start(test_options(log.string()), load_cursors(db));
  REQUIRE(second.run_until_line(400));
  CHECK(second.numbers() == range(101, 400));
  REQUIRE(second.gaps.size() == 1);
  CHECK(second.gaps.front().reason == GapReason::truncated);
}

TEST_CASE("a restart with a file shorter than its cursor starts it at 0 with a gap", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  const fs::path db = dir / "spool.db";
  Writer writer(log);
  writer.lines(1, 100);
  REQUIRE(first_run(log, db, 100, log.string()) == range(1, 100));
  const auto saved = load_cursors(db);

  fs::resize_file(log, 0);
  writer.lines(101, 120);
  Harness second;
  second.start(test_options(log.string()), saved);
  REQUIRE(second.run_until_line(120));
  CHECK(second.numbers() == range(101, 120));
  REQUIRE(second.gaps.size() == 1);
  CHECK(second.gaps.front().offset == saved.front().offset);
}

TEST_CASE("a new file of a source with saved cursors is read from its beginning", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "a.log";
  const fs::path db = dir / "spool.db";
  const std::string glob = (dir / "*.log").string();
  Writer writer(log);
  writer.lines(1, 10);
  REQUIRE(first_run(log, db, 10, glob) == range(1, 10));

  Writer other(dir / "b.log");
  other.lines(11, 20); // appeared while the agent was stopped
  Harness second;
  second.start(test_options(glob, StartAt::end), load_cursors(db));
  REQUIRE(second.run_until_line(20));
  CHECK(second.numbers() == range(11, 20));
}

TEST_CASE("stopping inside a callback keeps the cursor after the record handed out", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 100);
  std::vector<TailCursor> cursors;
  {
    Harness first;
    first.after_record = [&] {
      if (first.records.size() == 10) {
        first.tailer().stop();
      }
    };
    first.start(test_options(log.string()));
    REQUIRE(first.run_until([&] { return first.tailer().is_stopped(); }));
    first.run_for(100ms);
    REQUIRE(first.numbers() == range(1, 10));
    cursors = first.stop();
    REQUIRE(cursors.size() == 1);
    CHECK(cursors.front().offset == first.records.back().end_offset);
  }
  Harness second;
  second.start(test_options(log.string()), cursors);
  REQUIRE(second.run_until_line(100));
  CHECK(second.numbers() == range(11, 100));
}
