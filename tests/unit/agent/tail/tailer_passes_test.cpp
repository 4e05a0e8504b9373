// SPDX-License-Identifier: Apache-2.0
// The tailer's cost per write: what inotify and the poll report is served in batches (one
// threadpool round trip for many files and many writes), and inotify can be paused while the
// kernel keeps the events.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "agent/tail/inotify_watch.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/tail/tail_harness.hpp"

using namespace medic::test::tail;
using medic::agent::tail::InotifyEvent;
using medic::agent::tail::InotifyWatch;
using medic::test::TempDir;

namespace {

// Follows one file with only inotify reporting its writes (the poll is 10 s away), read at most
// every `read_interval`; returns once the file is open.
void follow_one(Harness& harness, const std::filesystem::path& log,
                std::chrono::milliseconds read_interval) {
  auto options = test_options(log.string());
  options.poll_interval = 10s;
  options.read_interval = read_interval;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == 1; }));
}

} // namespace

TEST_CASE("writes to many files within read_interval share threadpool round trips", "[tail]") {
  const TempDir dir;
  constexpr int k_files = 10;
  constexpr int k_lines = 40;
  const auto writers = writers_in(dir.path(), "f", k_files);
  Harness harness;
  auto options = test_options((dir / "*.log").string());
  options.poll_interval = 1s; // only inotify reports the writes
  options.read_interval = 100ms;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == k_files; }));
  harness.run_for(150ms);
  const std::uint64_t passes_before = harness.tailer().stats().io_passes;

  // A line at a time to every file, 2 ms apart: 400 writes over about a second.
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 1; i <= k_lines; ++i) {
      for (auto& writer : writers) {
        writer->lines(i, i);
        std::this_thread::sleep_for(2ms);
      }
    }
    done = true;
  });
  const bool all = harness.run_until(
      [&] { return done && harness.records.size() == std::size_t{k_files * k_lines}; });
  producer.join();
  REQUIRE(all);
  const std::uint64_t passes = harness.tailer().stats().io_passes - passes_before;
  INFO("passes for 400 writes: " << passes);
  CHECK(passes < 60); // one per write, or more, before coalescing
  std::vector<int> per_file(k_files, 0);
  for (const SeenRecord& record : harness.records) {
    const int file = record.path[record.path.size() - 5] - '0';
    CHECK(line_number(record.text) == ++per_file[static_cast<std::size_t>(file)]);
  }
}

TEST_CASE("a change is read within read_interval of the write", "[tail]") {
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  follow_one(harness, dir / "app.log", 100ms);
  for (int i = 1; i <= 5; ++i) {
    harness.run_for(300ms); // idle, so the next write is served at once
    const auto written = std::chrono::steady_clock::now();
    writer.lines(i, i);
    REQUIRE(harness.run_until_line(i, 2s));
    CHECK(std::chrono::steady_clock::now() - written < 200ms);
  }
}

TEST_CASE("a paused inotify watch keeps the writes for one drain, not the creations", "[tail]") {
  const TempDir dir;
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<std::string> names;
  int moves = 0;
  {
    auto watch = InotifyWatch::open(loop, {[&](const InotifyEvent& event) {
                                             names.emplace_back(event.name ? event.name : "");
                                             moves += event.moved ? 1 : 0;
                                           },
                                           {}});
    REQUIRE(watch);
    REQUIRE((*watch)->add(dir.path().string()) >= 0);
    CHECK((*watch)->add((dir / "missing").string()) < 0);

    (*watch)->pause();
    Writer writer(dir / "a.log"); // created: a move; then written 3 times
    for (int i = 1; i <= 3; ++i) {
      writer.lines(i, i);
    }
    const auto created_by = std::chrono::steady_clock::now() + 5s;
    while (moves == 0 && std::chrono::steady_clock::now() < created_by) {
      uv_run(&loop, UV_RUN_NOWAIT);
    }
    for (int i = 0; i < 3; ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
    }
    CHECK(names == std::vector<std::string>{"a.log"}); // the creation woke the loop, no write
    CHECK(moves == 1);
    names.clear();
    (*watch)->drain();
    CHECK(moves == 1);
    CHECK(!names.empty()); // the writes (merged when identical)
    CHECK(names.size() <= 3);
    CHECK(std::all_of(names.begin(), names.end(), [](const auto& n) { return n == "a.log"; }));

    names.clear();
    (*watch)->resume();
    writer.lines(4, 4);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (names.empty() && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop, UV_RUN_NOWAIT);
    }
    CHECK(names == std::vector<std::string>{"a.log"});
  }
  uv_run(&loop, UV_RUN_NOWAIT); // the poll handle's close callback
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a drain delivers one write event per file, however often it was written", "[tail]") {
  // Writes to two files alternate, so the kernel cannot merge them (it merges an event only
  // with the one queued just before): six events queued, two delivered.
  const TempDir dir;
  Writer a(dir / "a.log");
  Writer b(dir / "b.log");
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<std::string> names;
  {
    auto watch = InotifyWatch::open(loop, {[&](const InotifyEvent& event) {
                                             if (!event.moved) {
                                               names.emplace_back(event.name ? event.name : "");
                                             }
                                           },
                                           {}});
    REQUIRE(watch);
    REQUIRE((*watch)->add(dir.path().string()) >= 0);
    (*watch)->pause();
    for (int i = 1; i <= 3; ++i) {
      a.lines(i, i);
      b.lines(i, i);
    }
    (*watch)->drain();
    CHECK(names == std::vector<std::string>{"a.log", "b.log"});
    names.clear();
    a.lines(4, 4); // a new drain delivers the next write again
    (*watch)->drain();
    CHECK(names == std::vector<std::string>{"a.log"});
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("many small appends to one file within read_interval are read in one pass", "[tail]") {
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  constexpr auto k_read_interval = 250ms;
  follow_one(harness, dir / "app.log", k_read_interval);
  harness.run_for(300ms);
  const std::uint64_t idle_passes = harness.tailer().stats().io_passes;

  SECTION("written before the loop looks: one pass reads them all") {
    for (int i = 1; i <= 200; ++i) {
      writer.lines(i, i); // 200 writes, 200 IN_MODIFY
    }
    REQUIRE(harness.run_until_line(200));
    harness.run_for(k_read_interval + 100ms); // anything left would be read by now
    CHECK(harness.tailer().stats().io_passes - idle_passes == 1);
  }
  SECTION("written while the loop runs: at most one pass per interval") {
    std::atomic<bool> done{false};
    std::thread producer([&] {
      for (int i = 1; i <= 200; ++i) {
        writer.lines(i, i);
        std::this_thread::sleep_for(2ms);
      }
      done = true;
    });
    const auto began = std::chrono::steady_clock::now();
    const bool all = harness.run_until([&] { return done && harness.records.size() == 200; });
    const auto elapsed = std::chrono::steady_clock::now() - began;
    producer.join();
    REQUIRE(all);
    const std::uint64_t passes = harness.tailer().stats().io_passes - idle_passes;
    // The first change after an idle spell is served at once, the rest once per
    // interval; a full read buffer (never here: 200 short lines) would add passes.
    const auto intervals = elapsed / k_read_interval;
    INFO("passes: " << passes << " over " << intervals << " whole intervals");
    CHECK(passes <= static_cast<std::uint64_t>(intervals) + 2);
    CHECK(passes < 20);
  }
  CHECK(harness.numbers() == range(1, 200));
  CHECK(harness.gaps.empty());
}

TEST_CASE("read_interval 0 reads at once", "[tail]") {
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  follow_one(harness, dir / "app.log", 0ms);
  harness.run_for(100ms);
  for (int i = 1; i <= 5; ++i) {
    const std::uint64_t passes = harness.tailer().stats().io_passes;
    writer.lines(i, i);
    REQUIRE(harness.run_until_line(i, 2s));
    CHECK(harness.tailer().stats().io_passes == passes + 1); // one pass per write, no waiting
  }
  CHECK(harness.numbers() == range(1, 5));
}

TEST_CASE("rotations inside one read_interval lose and repeat no line", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  Harness harness;
  const auto read_interval = GENERATE(100ms, 250ms);
  follow_one(harness, log, read_interval); // the interval, not the poll, decides the reads

  int next = 1;
  for (int rotation = 1; rotation <= 4; ++rotation) {
    writer.lines(next, next + 9);
    next += 10;
    REQUIRE(harness.run_until_line(next - 1)); // a pass just ran: the next is an interval away
    const std::uint64_t passes = harness.tailer().stats().io_passes;
    // Within that interval: more lines, logrotate `create` (rename, late lines into the renamed
    // file, reopen) and lines into the new file, all before the tailer reads again.
    writer.lines(next, next + 4);
    next += 5;
    std::error_code ec;
    fs::rename(dir / "app.log.1", dir / "app.log.2", ec);
    fs::rename(log, dir / "app.log.1");
    writer.lines(next, next + 2);
    next += 3;
    writer.reopen(log);
    writer.lines(next, next + 6);
    next += 7;
    REQUIRE(harness.run_until_line(next - 1));
    INFO("passes for the rotation: " << harness.tailer().stats().io_passes - passes);
  }
  harness.run_for(read_interval + 100ms);
  CHECK(harness.numbers() == range(1, next - 1));
  CHECK(harness.gaps.empty());
  CHECK(harness.tailer().stats().rotations >= 4);
}

TEST_CASE("with inotify, the poll of a file that did not grow is an fstat, not a read", "[tail]") {
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  harness.start(test_options((dir / "app.log").string())); // a poll every 50 ms
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == 1; }));
  writer.lines(1, 3);
  REQUIRE(harness.run_until_line(3, 2s));
  harness.run_for(100ms);
  const auto reads = harness.tailer().stats().reads;
  harness.run_for(500ms); // ten polls
  CHECK(harness.tailer().stats().reads == reads);
  writer.lines(4, 5); // reported by inotify and read
  REQUIRE(harness.run_until_line(5, 2s));
  CHECK(harness.numbers() == range(1, 5));
}

TEST_CASE("with inotify, the poll finds lines written where inotify does not report them",
          "[tail]") {
  // A write through a hard link in another directory changes the file, but inotify tells only
  // the watchers of that other directory (as a network file system's inotify never hears of
  // other hosts' writes). The poll's fstat sees the size, and the read follows.
  const TempDir dir;
  fs::create_directories(dir / "logs");
  fs::create_directories(dir / "elsewhere");
  Writer writer(dir / "logs" / "app.log");
  fs::create_hard_link(dir / "logs" / "app.log", dir / "elsewhere" / "alias.log");
  Harness harness;
  harness.start(test_options((dir / "logs" / "app.log").string()));
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == 1; }));
  writer.lines(1, 2);
  REQUIRE(harness.run_until_line(2, 2s));
  Writer alias(dir / "elsewhere" / "alias.log");
  alias.lines(3, 6);
  REQUIRE(harness.run_until_line(6, 2s));
  CHECK(harness.numbers() == range(1, 6));
}
