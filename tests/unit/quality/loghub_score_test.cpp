// SPDX-License-Identifier: Apache-2.0
// The Loghub scorer on hand-computed cases: grouping accuracy, pairwise F1, CSV and line
// reading, header formats, corpus loading, and the reference Drain's documented quirks. The
// published numbers themselves are checked by the ctest "quality: loghub scorer reproduces
// published Drain" (it needs the corpus).
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/quality/loghub/grouping_accuracy.hpp"
#include "tests/quality/loghub/loghub_corpus.hpp"
#include "tests/quality/loghub/reference_drain.hpp"
#include "tests/support/temp_dir.hpp"

namespace lh = medic::quality::loghub;
using Strings = std::vector<std::string>;

namespace {

lh::GroupingScore score(const Strings& truth, const Strings& parsed) {
  auto s = lh::score_grouping(truth, parsed);
  REQUIRE(s);
  return *s;
}

} // namespace

TEST_CASE("loghub score: grouping accuracy counts a line only when its group is exactly its event",
          "[loghub-score]") {
  const Strings truth = {"A", "A", "B", "B", "C"};
  const auto exact = score(truth, {"x", "x", "y", "y", "z"});
  CHECK(exact.accuracy == 1.0);
  CHECK(exact.f1 == 1.0);
  // B split in two: A (2) and C (1) right. Pairs: real 2, parsed 1, accurate 1.
  const auto split = score(truth, {"1", "1", "2", "3", "4"});
  CHECK(split.accuracy == Approx(0.6));
  CHECK(split.precision == 1.0);
  CHECK(split.recall == Approx(0.5));
  CHECK(split.f1 == Approx(2.0 / 3.0));
  CHECK(split.parsed_groups == 4);
  CHECK(split.true_groups == 3);
  // A and B merged: only C right. Parsed pairs C(4,2) = 6, accurate 2.
  const auto merged = score(truth, {"1", "1", "1", "1", "3"});
  CHECK(merged.accuracy == Approx(0.2));
  CHECK(merged.precision == Approx(2.0 / 6.0));
  CHECK(merged.recall == 1.0);
  CHECK(merged.f1 == Approx(0.5));
  // Labels are only names: numbering does not matter, but every line must have one.
  const std::vector<std::uint64_t> ids = {7, 7, 9, 9, 1};
  CHECK(lh::score_grouping(truth, ids)->accuracy == 1.0);
  CHECK_FALSE(lh::score_grouping(truth, Strings{"1", "1"}));
}

TEST_CASE("loghub score: ground truth is keyed by EventId and empty labels are left out",
          "[loghub-score]") {
  // Linux-corrected has three EventIds with one template text: by EventId they stay apart, so a
  // parser that groups them together is wrong on all three lines.
  CHECK(score({"E17", "E18", "E19", "E1"}, {"t", "t", "t", "u"}).accuracy == Approx(0.25));
  const auto partial = score({"A", "", "A", "B"}, {"1", "2", "1", "1"});
  CHECK(partial.lines == 3);
  CHECK(partial.accuracy == 0.0); // the group of A holds B's line
  CHECK(score({"A", "", "A"}, {"1", "1", "1"}).accuracy == 1.0);
  CHECK(score({}, {}).accuracy == 0.0);
}

TEST_CASE("loghub score: lines split on LF with CR stripped, with or without a final newline",
          "[loghub-score]") {
  CHECK(lh::split_lines("a\r\nb\r\n") == Strings{"a", "b"});
  CHECK(lh::split_lines("a\r\nb") == Strings{"a", "b"});
  CHECK(lh::split_lines("a\n\nb\n") == Strings{"a", "", "b"});
  CHECK(lh::split_lines("a\rb\n") == Strings{"a\rb"});
  CHECK(lh::split_lines("").empty());
}

TEST_CASE("loghub score: CSV fields may be quoted with commas, quotes and line breaks",
          "[loghub-score]") {
  const auto rows = lh::parse_csv("LineId,Content,EventId\r\n1,\"a, \"\"b\"\"\nc\",E1\r\n2,x,E2");
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[1][1] == "a, \"b\"\nc");
  CHECK((*rows)[2] == Strings{"2", "x", "E2"});
  const auto ids = lh::csv_column(*rows, "EventId");
  REQUIRE(ids);
  CHECK(*ids == Strings{"E1", "E2"});
  CHECK_FALSE(lh::csv_column(*rows, "EventTemplate"));
  CHECK(lh::parse_csv("a,\"\"\n")->at(0) == Strings{"a", ""});
  const auto open = lh::parse_csv("a,\"b\n");
  REQUIRE_FALSE(open);
  CHECK(open.error().message().find("not closed") != std::string::npos);
  CHECK_FALSE(lh::parse_csv("a,\"b\"c\n"));
}

TEST_CASE("loghub score: header formats become logparser's anchored lazy expressions",
          "[loghub-score]") {
  CHECK(lh::header_pattern("\\[<Time>\\] <Level>  x") ==
        "^\\[(?P<Time>.*?)\\]\\s+(?P<Level>.*?)\\s+x$");
  const auto windows =
      lh::HeaderFormat::create("<Date> <Time>, <Level>                  <Component>    <Content>");
  REQUIRE(windows);
  CHECK(windows->content("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing "
                         "Stack v6.1.7601.23505 \r") == "Loaded Servicing Stack v6.1.7601.23505");
  const auto thunderbird = lh::HeaderFormat::create("<Component>(\\[<PID>\\])?: <Content>");
  REQUIRE(thunderbird);
  CHECK(thunderbird->content("sshd[42]: a: b") == "a: b");
  CHECK(thunderbird->content("kernel: x") == "x");
  CHECK_FALSE(thunderbird->content("no colon here"));
  CHECK_FALSE(lh::HeaderFormat::create("<Time> <Level>"));    // no <Content>
  CHECK_FALSE(lh::HeaderFormat::create("(<Time> <Content>")); // not an expression
}

TEST_CASE("loghub score: formats.tsv names each system's header format", "[loghub-score]") {
  const auto formats = lh::parse_formats("# comment\nApache\t\\[<Time>\\] <Content>\r\n\n");
  REQUIRE(formats);
  REQUIRE(formats->size() == 1);
  CHECK((*formats)[0].system == "Apache");
  CHECK((*formats)[0].format == "\\[<Time>\\] <Content>");
  const auto bad = lh::parse_formats("Apache <Content>\n");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("line 1") != std::string::npos);
}

TEST_CASE("loghub score: a corpus sample aligns log lines and ground-truth rows",
          "[loghub-score]") {
  const medic::test::TempDir dir;
  std::filesystem::create_directories(dir / "Tiny");
  medic::test::write_file(dir / "Tiny/Tiny_2k.log", "[t1] open a\r\n[t2] open b\r\nbroken");
  medic::test::write_file(dir / "Tiny/Tiny_2k.log_structured.csv",
                          "LineId,Time,Content,EventId,EventTemplate\r\n1,t1,open a,E1,open <*>\r\n"
                          "2,t2,open b,E1,open <*>\r\n3,,broken,E2,broken\r\n");
  const lh::SystemFormat format{"Tiny", "\\[<Time>\\] <Content>"};
  const auto sample = lh::load_sample(dir.path(), format, lh::Truth::original);
  REQUIRE(sample);
  CHECK(sample->contents == Strings{"open a", "open b", "broken"});
  CHECK(sample->header_misses == 1);
  CHECK(sample->truth == Strings{"E1", "E1", "E2"});
  medic::test::write_file(dir / "Tiny/Tiny_2k.log", "[t1] open a\n");
  const auto short_log = lh::load_sample(dir.path(), format, lh::Truth::original);
  REQUIRE_FALSE(short_log);
  CHECK(short_log.error().message().find("3 rows for 1 log lines") != std::string::npos);
  CHECK_FALSE(lh::load_sample(dir.path(), format, lh::Truth::corrected)); // no such file
}

TEST_CASE("loghub score: reference Drain merges by similarity and labels groups by final template",
          "[loghub-score]") {
  lh::DrainSettings settings;
  settings.regexes = {R"(\d+)"};
  const auto labels =
      lh::run_reference_drain(settings, {"open file a now", "open file b now", "close 12 x y",
                                         "open file a now", "5", "5", "shut down", ""});
  REQUIRE(labels);
  CHECK(*labels == Strings{"open file <*> now", "open file <*> now", "close <*> x y",
                           "open file <*> now", "<*>", "<*>", "shut down", ""});
  // Below the threshold (1 of 4 equal < 0.5) a new cluster starts.
  const auto apart = lh::run_reference_drain(settings, {"a b c d", "a x y z"});
  REQUIRE(apart);
  CHECK((*apart)[0] == "a b c d");
  CHECK((*apart)[1] == "a x y z");
  settings.regexes = {"("};
  CHECK_FALSE(lh::run_reference_drain(settings, {"x"}));
  REQUIRE(lh::published_drain_settings("Windows"));
  CHECK(lh::published_drain_settings("Windows")->depth == 5);
  CHECK_FALSE(lh::published_drain_settings("Nope"));
}
