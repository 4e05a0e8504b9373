// SPDX-License-Identifier: Apache-2.0
// Reading a NAB-format corpus: timestamps, windows as row indexes, result files, and errors that
// name the file and the line.
#include <catch2/catch.hpp>

#include "tests/quality/nab/nab_corpus.hpp"
#include "tests/support/temp_dir.hpp"

namespace nab = medic::quality::nab;
using medic::test::TempDir;
using medic::test::write_file;

namespace {

// A corpus of one 20-row file (one row a minute), a window over rows 10..13.
void write_corpus(const TempDir& dir, const std::string& windows) {
  std::string data = "timestamp,value\r\n"; // CRLF is accepted
  for (int i = 0; i < 20; ++i) {
    data += "2014-07-01 00:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ":00," +
            std::to_string(i * 1.5) + "\r\n";
  }
  std::filesystem::create_directories(dir / "data/cat");
  std::filesystem::create_directories(dir / "labels");
  write_file(dir / "data/cat/one.csv", data);
  write_file(dir / "labels/combined_windows.json", "{\"cat/one.csv\": " + windows + "}");
}

} // namespace

TEST_CASE("nab: timestamps parse with or without microseconds", "[nab]") {
  CHECK(nab::parse_timestamp("1970-01-01 00:00:00").value() == 0);
  CHECK(nab::parse_timestamp("1970-01-02 00:00:01").value() == 86'401'000'000);
  CHECK(nab::parse_timestamp("2014-10-30 15:30:00.000000").value() ==
        nab::parse_timestamp("2014-10-30 15:30:00").value());
  CHECK(nab::parse_timestamp("2000-03-01 00:00:00.5").value() -
            nab::parse_timestamp("2000-02-29 00:00:00").value() ==
        86'400'500'000);
  CHECK(nab::format_timestamp(nab::parse_timestamp("2016-02-29 23:59:07").value()) ==
        "2016-02-29 23:59:07");
  CHECK_FALSE(nab::parse_timestamp("2014-13-01 00:00:00"));
  CHECK_FALSE(nab::parse_timestamp("2014-10-30"));
  CHECK_FALSE(nab::parse_timestamp("2014-10-30 15:30:00.x"));
}

TEST_CASE("nab: a corpus loads with its windows as row indexes", "[nab]") {
  TempDir dir;
  write_corpus(dir, R"([["2014-07-01 00:10:00.000000", "2014-07-01 00:13:00.000000"]])");
  auto corpus = nab::load_corpus(dir.path());
  REQUIRE(corpus);
  REQUIRE(corpus->files.size() == 1);
  const nab::DataFile& file = corpus->files[0];
  CHECK(file.labels.name == "cat/one.csv");
  CHECK(file.labels.rows == 20);
  REQUIRE(file.labels.windows.size() == 1);
  CHECK(file.labels.windows[0].left == 10);
  CHECK(file.labels.windows[0].right == 13);
  CHECK(file.values[3] == 4.5);
  CHECK(corpus->window_count() == 1);

  // A result file written for it reads back as the same scores.
  std::vector<double> scores(20, 0.25);
  scores[11] = 0.875;
  const auto path = nab::result_path(dir / "results", "mine", "cat/one.csv");
  CHECK(path == dir / "results/mine/cat/mine_one.csv");
  REQUIRE(nab::write_result_file(path, file, scores));
  auto back = nab::load_result_scores(path, file);
  REQUIRE(back);
  CHECK(*back == scores);
}

TEST_CASE("nab: corpus errors name the file and what is wrong", "[nab]") {
  TempDir dir;
  write_corpus(dir, R"([["2014-07-01 00:10:30", "2014-07-01 00:13:00"]])");
  auto missing_row = nab::load_corpus(dir.path());
  REQUIRE_FALSE(missing_row);
  CHECK_THAT(missing_row.error().message(),
             Catch::Contains("cat/one.csv") && Catch::Contains("is not a row"));

  write_corpus(dir, R"([["2014-07-01 00:10:00", "2014-07-01 00:13:00"],
                        ["2014-07-01 00:12:00", "2014-07-01 00:15:00"]])");
  auto overlap = nab::load_corpus(dir.path());
  REQUIRE_FALSE(overlap);
  CHECK_THAT(overlap.error().message(), Catch::Contains("overlap"));

  write_corpus(dir, "[]");
  write_file(dir / "data/cat/one.csv", "timestamp,value\n2014-07-01 00:00:00,abc\n");
  auto bad_value = nab::load_corpus(dir.path());
  REQUIRE_FALSE(bad_value);
  CHECK_THAT(bad_value.error().message(), Catch::Contains("one.csv: line 2"));

  write_corpus(dir, "[]");
  write_file(dir / "labels/combined_windows.json", "{}");
  CHECK_THAT(nab::load_corpus(dir.path()).error().message(), Catch::Contains("no entry"));
}
