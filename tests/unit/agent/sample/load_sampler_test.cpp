// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/load_sampler.hpp"

#include <filesystem>

#include <catch2/catch.hpp>

#include "agent/sample/memory_sampler.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/sample/recording_sink.hpp"

namespace fs = std::filesystem;
using medic::ErrorCode;
using medic::agent::sample::LoadAverage;
using medic::agent::sample::LoadSampler;
using medic::agent::sample::MemorySampler;
using medic::agent::sample::parse_loadavg;
using medic::test::read_file;
using medic::test::RecordingSink;
using medic::test::TempDir;
using medic::test::write_file;

namespace {

const fs::path k_fixtures = fs::path(MEDIC_FIXTURES_DIR) / "proc";

} // namespace

TEST_CASE("parse_loadavg reads a captured /proc/loadavg", "[sample][load]") {
  // 3.79 3.80 2.78 4/105 29945
  const auto load = parse_loadavg(read_file(k_fixtures / "loadavg"));
  REQUIRE(load);
  CHECK(*load == LoadAverage{3.79, 3.80, 2.78, 4, 105});
}

TEST_CASE("parse_loadavg says which field is wrong", "[sample][load]") {
  CHECK_THAT(parse_loadavg("").error().message(), Catch::Contains("empty"));
  CHECK_THAT(parse_loadavg("0.5 x 0.1 1/2 3\n").error().message(),
             Catch::Contains("5-minute load 'x'"));
  CHECK_THAT(parse_loadavg("0.5 0.4 -1 1/2 3\n").error().message(),
             Catch::Contains("15-minute load '-1'"));
  CHECK_THAT(parse_loadavg("0.5 0.4 0.1\n").error().message(), Catch::Contains("task field ''"));
  CHECK_THAT(parse_loadavg("0.5 0.4 0.1 12 3\n").error().message(),
             Catch::Contains("task field '12'"));
}

TEST_CASE("LoadSampler adds the load samples and names the file in errors", "[sample][load]") {
  TempDir root;
  write_file(root / "loadavg", read_file(k_fixtures / "loadavg"));
  LoadSampler sampler(root.path());
  REQUIRE(sampler.open());
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 42));
  CHECK(sink.value("load.1") == Approx(3.79));
  CHECK(sink.value("load.5") == Approx(3.80));
  CHECK(sink.value("load.15") == Approx(2.78));
  CHECK(sink.value("load.runnable") == 4);
  CHECK(sink.value("load.tasks") == 105);
  CHECK(sink.samples.back().time_ms == 42);

  write_file(root / "loadavg", "nan 1 1 1/1 1\n");
  const auto bad = sampler.sample(sink, 43);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message(),
             Catch::StartsWith((root / "loadavg").string() + ": line 1: 1-minute load 'nan'"));

  LoadSampler missing(root / "nowhere");
  const auto opened = missing.open();
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code() == ErrorCode::not_found);
}

TEST_CASE("LoadSampler on the real /proc", "[sample][load][real]") {
  LoadSampler sampler;
  REQUIRE(sampler.open());
  const auto load = sampler.read();
  REQUIRE(load);
  CHECK(load->load_1 >= 0);
  CHECK(load->runnable >= 1);
  CHECK(load->tasks >= load->runnable);
}

TEST_CASE("MemorySampler adds the memory samples", "[sample][memory]") {
  TempDir root;
  write_file(root / "meminfo", read_file(k_fixtures / "meminfo"));
  MemorySampler sampler(root.path());
  REQUIRE(sampler.open());
  const auto info = sampler.sample();
  REQUIRE(info);
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 7));
  CHECK(sink.value("mem.used_pct") == Approx(info->used_pct()));
  CHECK(sink.value("mem.total_bytes") == static_cast<double>(info->total_bytes));
  CHECK(sink.value("mem.available_bytes") == static_cast<double>(info->available_bytes));
  CHECK(sink.value("swap.used_pct") == Approx(info->swap_used_pct()));
  CHECK(sink.samples.size() == 4);
}
