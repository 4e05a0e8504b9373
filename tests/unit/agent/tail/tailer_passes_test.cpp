// SPDX-License-Identifier: Apache-2.0
// The tailer's cost per write: what inotify and the poll report is served in batches (one
// threadpool round trip for many files and many writes), and inotify can be paused while the
// kernel keeps the events.
#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "agent/tail/inotify_watch.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/tail/tail_harness.hpp"

using namespace medic::test::tail;
using medic::agent::tail::InotifyEvent;
using medic::agent::tail::InotifyWatch;
using medic::test::TempDir;

TEST_CASE("writes to many files within read_interval share threadpool round trips", "[tail]") {
  const TempDir dir;
  constexpr int k_files = 10;
  constexpr int k_lines = 40;
  std::vector<std::unique_ptr<Writer>> writers;
  for (int f = 0; f < k_files; ++f) {
    writers.push_back(std::make_unique<Writer>(dir / ("f" + std::to_string(f) + ".log")));
  }
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
  auto options = test_options((dir / "app.log").string());
  options.poll_interval = 10s;
  options.read_interval = 100ms;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == 1; }));
  for (int i = 1; i <= 5; ++i) {
    harness.run_for(300ms); // idle, so the next write is served after the short settle
    const auto written = std::chrono::steady_clock::now();
    writer.lines(i, i);
    REQUIRE(harness.run_until_line(i, 2s));
    CHECK(std::chrono::steady_clock::now() - written < 200ms);
  }
}

TEST_CASE("a paused inotify watch keeps the events for one drain", "[tail]") {
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
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(names.empty()); // paused: the loop was not woken
    (*watch)->drain();
    CHECK(moves == 1);
    CHECK(names.size() >= 2); // the create, and the writes (merged when identical)
    CHECK(names.size() <= 4);

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
