// SPDX-License-Identifier: Apache-2.0
// What the tailer makes of the bytes of real files: partial lines, multi-line records, overlong
// lines, bytes that are not UTF-8; and which files it picks up.
#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/tail/tail_harness.hpp"

using namespace medic::test::tail;
using medic::agent::tail::StartAt;
using medic::test::TempDir;

TEST_CASE("a partial last line is held until its newline arrives", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 1);
  writer.write("line 000002 hal");
  Harness harness;
  harness.start(test_options(log.string()));
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().bytes == fs::file_size(log); }));
  harness.run_for(400ms); // two idle flushes: a partial line is not flushed
  REQUIRE(harness.numbers() == range(1, 1));
  CHECK(harness.tailer().cursors().front().offset == harness.records[0].end_offset);

  writer.write("f done\n");
  REQUIRE(harness.run_until_line(2));
  CHECK(harness.numbers() == range(1, 2));
  CHECK(harness.records[1].text == "line 000002 half done");
  CHECK(harness.records[1].offset == harness.records[0].end_offset);
  CHECK(harness.records[1].end_offset == fs::file_size(log));
}

TEST_CASE("a Java stack trace is one record", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  const std::string trace =
      "line 000002 ERROR request failed java.lang.IllegalStateException: x\n"
      "\tat com.example.Handler.run(Handler.java:42)\n"
      "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
      "Caused by: java.io.IOException: broken pipe\n"
      "\tat com.example.Io.write(Io.java:7)\n"
      "\t... 2 more\n";
  writer.lines(1, 1);
  writer.write(trace);
  writer.lines(3, 3);
  Harness harness;
  auto options = test_options(log.string());
  options.sources[0].continuation_pattern = R"(^(\s+at |\s+\.\.\. \d+ more|Caused by:))";
  harness.start(options);
  REQUIRE(harness.run_until_line(3)); // the last one comes with the idle flush
  REQUIRE(harness.numbers() == range(1, 3));
  const SeenRecord& grouped = harness.records[1];
  CHECK(grouped.text == trace.substr(0, trace.size() - 1));
  CHECK(grouped.offset == harness.records[0].end_offset);
  CHECK(grouped.end_offset == grouped.offset + trace.size());
  CHECK(harness.tailer().stats().lines == 8);
}

TEST_CASE("an overlong line is cut and flagged, and the next line is intact", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 1);
  writer.write(numbered_line(2, std::string(100'000, 'x')));
  writer.lines(3, 3);
  writer.write(numbered_line(4, std::string(90, 'y'))); // exactly at the bound: not cut
  Harness harness;
  auto options = test_options(log.string());
  options.sources[0].max_record_bytes = 102;
  options.read_chunk_bytes = 4096; // the long line spans many reads
  harness.start(options);
  REQUIRE(harness.run_until_line(4));
  REQUIRE(harness.numbers() == range(1, 4));
  CHECK(harness.records[1].truncated);
  CHECK(harness.records[1].text == "line 000002 " + std::string(90, 'x'));
  CHECK(harness.records[1].end_offset == harness.records[2].offset);
  CHECK_FALSE(harness.records[2].truncated);
  CHECK_FALSE(harness.records[3].truncated);
  CHECK(harness.records[3].text.size() == 102);
  CHECK(harness.tailer().stats().truncated == 1);
}

TEST_CASE("bytes that are not UTF-8 are replaced and NUL bytes dropped", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.write("line 000001 ok\n");
  writer.write("line 000002 bad \xff\xfe here\n");
  writer.write(std::string("line 000003 nul \0 in\n", 21));
  writer.write("line 000004 caf\xc3\xa9 \xe2\x82\xac\n");
  writer.write("line 000005 cut \xe2\x82\n");
  Harness harness;
  harness.start(test_options(log.string()));
  REQUIRE(harness.run_until_line(5));
  REQUIRE(harness.numbers() == range(1, 5));
  CHECK(harness.records[1].text == "line 000002 bad \xef\xbf\xbd\xef\xbf\xbd here");
  CHECK(harness.records[2].text == "line 000003 nul  in");
  CHECK(harness.records[3].text == "line 000004 caf\xc3\xa9 \xe2\x82\xac");
  CHECK(harness.records[4].text == "line 000005 cut \xef\xbf\xbd");
  CHECK(harness.tailer().stats().invalid_utf8_replaced == 3);
  CHECK(harness.tailer().stats().nul_bytes_dropped == 1);
}

TEST_CASE("a glob picks up a file created after the start, from its beginning", "[tail]") {
  const TempDir dir;
  Writer first(dir / "a.log");
  first.lines(1, 5); // present at start with start_at end: skipped
  Harness harness;
  harness.start(test_options((dir / "*.log").string(), StartAt::end));
  REQUIRE(harness.run_until([&] { return !harness.tailer().cursors().empty(); }));
  first.lines(6, 10);
  REQUIRE(harness.run_until_line(10));

  Writer second(dir / "b.log");
  second.lines(11, 20);
  REQUIRE(harness.run_until_line(20));
  CHECK(harness.numbers() == range(6, 20));
  CHECK(harness.records.back().path == (dir / "b.log").string());
}

TEST_CASE("start at end begins after the last complete line", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 50);
  writer.write("line 000051 being writ"); // in progress at start: taken whole
  Harness harness;
  harness.start(test_options(log.string(), StartAt::end));
  REQUIRE(harness.run_until([&] { return !harness.tailer().cursors().empty(); }));
  writer.write("ten\n");
  writer.lines(52, 60);
  REQUIRE(harness.run_until_line(60));
  CHECK(harness.numbers() == range(51, 60));
  CHECK(harness.records.front().text == "line 000051 being written");
}

TEST_CASE("a large file does not hold back a small one", "[tail]") {
  const TempDir dir;
  {
    Writer big(dir / "a.log");
    big.write(std::string(20u << 20, 'x') + "\n"); // one 20 MiB line: cut, read chunk by chunk
    Writer small(dir / "b.log");
    small.lines(1, 1);
  }
  Harness harness;
  auto options = test_options((dir / "*.log").string());
  options.read_chunk_bytes = 64 * 1024;
  harness.start(options);
  REQUIRE(harness.run_until_line(1));
  // The small file's line came while most of the large one was still unread.
  CHECK(harness.tailer().stats().bytes < (10u << 20));
  REQUIRE(harness.run_until([&] { return harness.records.size() == 2; }));
}

TEST_CASE("files beyond max_files are counted and not opened", "[tail]") {
  const TempDir dir;
  for (const char* name : {"a.log", "b.log", "c.log"}) {
    Writer writer(dir / name);
    writer.lines(1, 1);
  }
  Harness harness;
  auto options = test_options((dir / "*.log").string());
  options.max_files = 2;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return harness.records.size() == 2; }));
  harness.run_for(300ms);
  CHECK(harness.records.size() == 2);
  CHECK(harness.tailer().stats().files_skipped == 1);
  CHECK(harness.tailer().stats().files_open == 2);
}

TEST_CASE("bad options are refused with the source and field named", "[tail]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto options = test_options("/var/log/app.log");
  options.sources[0].continuation_pattern = "(";
  auto tailer = medic::agent::tail::Tailer::create(loop, options, {});
  REQUIRE_FALSE(tailer);
  CHECK_THAT(tailer.error().message(),
             Catch::Contains("tail source 'app'") && Catch::Contains("continuation_pattern"));
  options = test_options("relative/*.log");
  CHECK_THAT(medic::agent::tail::validate(options).error().message(),
             Catch::Contains("not an absolute path"));
  options = test_options("/x.log");
  options.read_chunk_bytes = 10;
  CHECK_THAT(medic::agent::tail::validate(options).error().message(),
             Catch::Contains("read_chunk_bytes"));
  options = test_options("/x.log");
  options.read_interval = std::chrono::milliseconds(20'000);
  CHECK_THAT(medic::agent::tail::validate(options).error().message(),
             Catch::Contains("read_interval"));
  uv_loop_close(&loop);
}
