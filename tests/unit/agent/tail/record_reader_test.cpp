// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/record_reader.hpp"

#include <random>
#include <string>
#include <vector>

#include <re2/re2.h>
#include <catch2/catch.hpp>

using medic::agent::tail::FirstLine;
using medic::agent::tail::RecordReader;
using medic::agent::tail::RecordRules;
using medic::agent::tail::RecordSink;
using medic::agent::tail::TailStats;

namespace {

struct Out {
  std::string text;
  std::uint64_t offset;
  std::uint64_t end;
  bool truncated;
  friend bool operator==(const Out&, const Out&) = default;
};

class Collect final : public RecordSink {
public:
  void on_record(std::string_view text, std::uint64_t offset, std::uint64_t end,
                 bool truncated) override {
    out.push_back(Out{std::string(text), offset, end, truncated});
  }
  std::vector<Out> out;
};

struct Run {
  std::vector<Out> records;
  std::uint64_t committed = 0;
};

// Feeds `input` in pieces of the given sizes (cycled), then optionally finishes.
Run feed(std::string_view input, const re2::RE2* continuation, std::size_t max_bytes,
         const std::vector<std::size_t>& pieces, bool finish) {
  Collect sink;
  TailStats stats;
  std::vector<char> scratch(max_bytes);
  RecordReader reader(RecordRules{continuation, max_bytes}, scratch, stats, sink);
  reader.reset(0, FirstLine::whole);
  std::size_t at = 0;
  for (std::size_t i = 0; at < input.size(); ++i) {
    const std::size_t size = std::min(pieces[i % pieces.size()], input.size() - at);
    reader.feed(input.substr(at, size), 0);
    at += size;
  }
  if (finish) {
    reader.finish();
  }
  return Run{sink.out, reader.committed()};
}

const std::string k_input =
    "first line\r\n"
    "\n"
    "java.lang.Error: boom\n"
    "\tat a.B.c(B.java:1)\n"
    "\tat a.B.d(B.java:2)\n"
    "a line that is far too long to fit in the small record bound\n"
    "caf\xc3\xa9 \xff end\n"
    "partial tail";

} // namespace

TEST_CASE("records do not depend on how the bytes were split into reads", "[tail]") {
  const re2::RE2 continuation(R"(^\s+at )");
  const auto whole = feed(k_input, &continuation, 45, {k_input.size()}, true);
  std::mt19937 random(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> pieces;
    for (int i = 0; i < 8; ++i) {
      pieces.push_back(1 + random() % 17);
    }
    const auto split = feed(k_input, &continuation, 45, pieces, true);
    REQUIRE(split.records == whole.records);
    REQUIRE(split.committed == whole.committed);
  }
  REQUIRE(whole.records.size() == 6);
  CHECK(whole.records[0] == Out{"first line", 0, 12, false});
  CHECK(whole.records[1].text == "java.lang.Error: boom\n\tat a.B.c(B.java:1)");
  CHECK(whole.records[2] == Out{"\tat a.B.d(B.java:2)", whole.records[1].end,
                                whole.records[1].end + 20, false}); // would pass 45 bytes
  CHECK(whole.records[3].truncated);
  CHECK(whole.records[3].text.size() == 45);
  CHECK(whole.records[4].text == "caf\xc3\xa9 \xef\xbf\xbd end");
  CHECK(whole.records.back().text == "partial tail");
  CHECK(whole.committed == k_input.size());
}

TEST_CASE("the cursor stays before a partial line and an unfinished record", "[tail]") {
  const re2::RE2 continuation(R"(^\s)");
  const std::string text = "one\ntwo\n  more\nthr";
  const auto run = feed(text, &continuation, 100, {3}, false);
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0].text == "one");
  CHECK(run.committed == 4); // "two\n  more\n" may still continue, "thr" is partial
}

TEST_CASE("a first line cut by a mid-line start is skipped", "[tail]") {
  Collect sink;
  TailStats stats;
  std::vector<char> scratch(64);
  RecordReader reader(RecordRules{nullptr, 64}, scratch, stats, sink);
  reader.reset(100, FirstLine::skip);
  reader.feed("end of a line\nwhole\n", 0);
  REQUIRE(sink.out.size() == 1);
  CHECK(sink.out[0] == Out{"whole", 114, 120, false});
  CHECK(reader.committed() == 120);
}

TEST_CASE("an idle multi-line record is flushed after the idle time only", "[tail]") {
  const re2::RE2 continuation(R"(^\s)");
  Collect sink;
  TailStats stats;
  std::vector<char> scratch(64);
  RecordReader reader(RecordRules{&continuation, 64}, scratch, stats, sink);
  reader.reset(0, FirstLine::whole);
  reader.feed("head\n  body\n", 1000);
  reader.flush_if_idle(1500, 1000);
  CHECK(sink.out.empty());
  reader.flush_if_idle(2000, 1000);
  REQUIRE(sink.out.size() == 1);
  CHECK(sink.out[0] == Out{"head\n  body", 0, 12, false});
  CHECK(reader.committed() == 12);
}

TEST_CASE("RecordReader grows its line buffer to the bound for a split line and frees it after",
          "[tail]") {
  constexpr std::size_t k_max = 4000;
  Collect sink;
  TailStats stats;
  std::vector<char> scratch(k_max);
  RecordReader reader(RecordRules{nullptr, k_max}, scratch, stats, sink);
  reader.reset(0, FirstLine::whole);
  CHECK(reader.line_buffer_bytes() == 0); // nothing allocated before a line is split

  const auto feed_in_pieces = [&](const std::string& text, std::size_t piece) {
    for (std::size_t at = 0; at < text.size(); at += piece) {
      reader.feed(std::string_view(text).substr(at, piece), 0);
    }
  };
  const std::string bound_line(k_max, 'a');
  feed_in_pieces(bound_line, 7);
  CHECK(reader.line_buffer_bytes() > RecordReader::k_kept_line_capacity);
  CHECK(reader.line_buffer_bytes() <= k_max + 1);
  reader.feed("\n", 0);
  CHECK(reader.line_buffer_bytes() == 0); // freed once the line is complete

  // One byte over the bound, the last character a 2-byte one: cut before it, as without the
  // buffer growing.
  const std::string long_line = std::string(k_max - 1, 'b') + "\xc3\xa9";
  feed_in_pieces(long_line + "tail\n", 333);
  CHECK(reader.line_buffer_bytes() == 0);

  feed_in_pieces("short\n", 2);
  CHECK(reader.line_buffer_bytes() > 0);
  CHECK(reader.line_buffer_bytes() <= RecordReader::k_kept_line_capacity); // kept for next time

  feed_in_pieces(bound_line + "\n", 4096);
  reader.finish();

  REQUIRE(sink.out.size() == 4);
  CHECK(sink.out[0] == Out{bound_line, 0, k_max + 1, false});
  CHECK(sink.out[1].text == std::string(k_max - 1, 'b'));
  CHECK(sink.out[1].truncated);
  CHECK(sink.out[1].end == k_max + 1 + long_line.size() + 5);
  CHECK(sink.out[2].text == "short");
  CHECK(sink.out[3] == Out{bound_line, sink.out[2].end, sink.out[2].end + k_max + 1, false});
  CHECK(reader.committed() == sink.out[3].end);
}
