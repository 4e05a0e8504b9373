// SPDX-License-Identifier: Apache-2.0
// Real files, a real loop: rename rotation, copytruncate, deletion. Every line carries its
// number, and each test checks that the records are exactly lines 1..N, once each, in order.
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/tail/tail_harness.hpp"

using namespace medic::test::tail;
using medic::agent::tail::ChangeWatch;
using medic::agent::tail::GapReason;
using medic::test::TempDir;

TEST_CASE("rename rotation while the writer keeps writing loses and repeats no line", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  constexpr int k_lines = 6000;
  const auto watch = GENERATE(ChangeWatch::inotify_and_poll, ChangeWatch::poll_only);
  Writer writer(log);
  Harness harness;
  auto options = test_options(log.string());
  options.change_watch = watch;
  options.read_chunk_bytes = 4096;
  // Longer than between two rotations (about 0.3 s): the directory is busy, writes are paused
  // between passes, and a file created and renamed away within one interval must still be read.
  options.read_interval = 1s;
  harness.start(options);

  // logrotate `create`: rename, the writer goes on in the old file for a while, then reopens.
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 1; i <= k_lines; ++i) {
      writer.lines(i, i);
      if (i % 2000 == 1000) {
        std::error_code ec;
        fs::rename(dir / "app.log.1", dir / "app.log.2", ec);
        fs::rename(log, dir / "app.log.1");
        writer.lines(i + 1, i + 20); // late lines into the renamed file
        i += 20;
        writer.reopen(log);
      }
      if (i % 20 == 0) {
        std::this_thread::sleep_for(1ms);
      }
    }
    done = true;
  });
  const bool all =
      harness.run_until([&] { return done && harness.records.size() >= k_lines; }, 30s);
  producer.join();
  CHECK(all);
  CHECK(harness.numbers() == range(1, k_lines));
  CHECK(harness.gaps.empty());
  CHECK(harness.tailer().stats().rotations >= 3);
}

TEST_CASE("copytruncate after everything was read restarts at 0 without a gap", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 100);
  Harness harness;
  harness.start(test_options(log.string()));
  REQUIRE(harness.run_until_line(100));

  fs::copy_file(log, dir / "app.log.1");
  fs::resize_file(log, 0);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().truncations == 1; }));
  writer.lines(101, 200);
  REQUIRE(harness.run_until_line(200));
  CHECK(harness.numbers() == range(1, 200));
  CHECK(harness.gaps.empty());
}

TEST_CASE("copytruncate in the middle of reading reports the unread bytes as a gap", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 3000);
  const std::uint64_t size_before = fs::file_size(log);
  Harness harness;
  auto options = test_options(log.string());
  options.read_chunk_bytes = 4096; // many chunks, so the truncation lands mid-way
  options.max_inflight = 1;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return !harness.records.empty(); }));

  fs::resize_file(log, 0);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().truncations == 1; }));
  writer.lines(3001, 3100);
  REQUIRE(harness.run_until_line(3100));

  REQUIRE(harness.gaps.size() == 1);
  const SeenGap& gap = harness.gaps.front();
  const std::size_t before = gap.after_records;
  REQUIRE(before > 0);
  REQUIRE(before < 3000);
  CHECK(gap.reason == GapReason::truncated);
  CHECK(gap.path == log.string());
  CHECK(gap.offset == harness.records[before - 1].end_offset);
  CHECK(gap.offset + gap.bytes == size_before);
  CHECK(harness.numbers() == concat(range(1, static_cast<int>(before)), range(3001, 3100)));
}

TEST_CASE("a partial line lost to a truncation before it was finished is a gap", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 10);
  const std::string partial = "line 000011 never fin";
  writer.write(partial);
  Harness harness;
  harness.start(test_options(log.string()));
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().bytes == fs::file_size(log); }));
  REQUIRE(harness.numbers() == range(1, 10));

  fs::resize_file(log, 0);
  REQUIRE(harness.run_until([&] { return harness.gaps.size() == 1; }));
  writer.lines(11, 20);
  REQUIRE(harness.run_until_line(20));
  CHECK(harness.numbers() == range(1, 20));
  const SeenGap& gap = harness.gaps.front();
  CHECK(gap.reason == GapReason::truncated);
  CHECK(gap.offset == harness.records[9].end_offset);
  CHECK(gap.bytes == partial.size());
  CHECK(gap.after_records == 10);
}

TEST_CASE("a deleted and re-created file is read to its end, closed, and followed", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 50);
  Harness harness;
  harness.start(test_options(log.string()));
  REQUIRE(harness.run_until_line(50));

  // Written just before the delete, and a last line without its newline.
  writer.lines(51, 60);
  writer.write("line 000061 no newline");
  fs::remove(log);
  writer.reopen(log);
  writer.lines(62, 100);
  REQUIRE(harness.run_until_line(100));
  CHECK(harness.numbers() == range(1, 100));
  CHECK(harness.records[60].text == "line 000061 no newline");
  CHECK(harness.gaps.empty());
  CHECK(harness.run_until([&] { return deleted_handles(dir.path()).empty(); }));
}

TEST_CASE("a file replaced behind a symlink, where inotify does not look, is found by a glob",
          "[tail]") {
  // The tailer watches logs/, the directory of the path it follows; the file the symlink points
  // to is renamed and created again in real/, so no event reports it. The stat round of the paths
  // (done by the glob of that tick) finds another file at the path: the old one is read to its
  // end, the new one from its beginning.
  const TempDir dir;
  fs::create_directories(dir / "logs");
  fs::create_directories(dir / "real");
  const fs::path target = dir / "real" / "app.log";
  Writer writer(target);
  writer.lines(1, 10);
  fs::create_symlink(target, dir / "logs" / "app.log");
  Harness harness;
  auto options = test_options((dir / "logs" / "*.log").string());
  options.stat_interval = 200ms;
  harness.start(options);
  REQUIRE(harness.run_until_line(10));
  writer.lines(11, 20);
  fs::rename(target, dir / "real" / "app.log.1");
  writer.reopen(target);
  writer.lines(21, 30);
  REQUIRE(harness.run_until_line(30, 3s));
  CHECK(harness.numbers() == range(1, 30));
  CHECK(harness.gaps.empty());
  CHECK(harness.tailer().stats().rotations == 1);
}

TEST_CASE("no descriptor is kept on a deleted file", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  {
    Writer writer(log);
    writer.lines(1, 20);
  }
  Harness harness;
  harness.start(test_options(log.string()));
  REQUIRE(harness.run_until_line(20));
  REQUIRE(harness.tailer().stats().files_open == 1);

  fs::remove(log);
  CHECK(harness.run_until([&] {
    return deleted_handles(dir.path()).empty() && harness.tailer().stats().files_open == 0;
  }));
  CHECK(harness.numbers() == range(1, 20));
  CHECK(harness.tailer().cursors().empty());
}

TEST_CASE("a renamed file's partial last line is handed out when it is done", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 5);
  writer.write("line 000006 cut short");
  Harness harness;
  auto options = test_options(log.string());
  options.rotate_wait = 0ms; // done as soon as it is read to its end
  harness.start(options);
  REQUIRE(harness.run_until_line(5));

  fs::rename(log, dir / "app.log.1");
  writer.reopen(log);
  writer.lines(7, 10);
  REQUIRE(harness.run_until_line(10));
  CHECK(harness.numbers() == range(1, 10));
  CHECK(harness.records[5].text == "line 000006 cut short");
  CHECK(harness.records[5].path == log.string());
}

TEST_CASE("a rotated file kept open for late writers is closed as soon as it is deleted",
          "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 10);
  Harness harness;
  auto options = test_options(log.string());
  options.rotate_wait = 60s;
  options.poll_interval = 30s; // only inotify can be this quick
  harness.start(options);
  REQUIRE(harness.run_until_line(10));

  fs::rename(log, dir / "app.log.1");
  writer.reopen(log);
  writer.lines(11, 20);
  REQUIRE(harness.run_until_line(20));
  REQUIRE(harness.tailer().stats().files_open == 2); // the old one waits for late writers

  writer.close();
  fs::remove(dir / "app.log.1");
  CHECK(harness.run_until(
      [&] {
        return deleted_handles(dir.path()).empty() && harness.tailer().stats().files_open == 1;
      },
      5s));
  CHECK(harness.numbers() == range(1, 20));
}
