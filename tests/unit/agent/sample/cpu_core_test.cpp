// SPDX-License-Identifier: Apache-2.0
// CpuSampler's sink interface: the aggregate and per-CPU lines of /proc/stat.
#include <chrono>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "agent/sample/cpu_sampler.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/sample/recording_sink.hpp"

namespace fs = std::filesystem;
using medic::agent::sample::CpuConfig;
using medic::agent::sample::CpuSampler;
using medic::test::read_file;
using medic::test::RecordingSink;
using medic::test::TempDir;
using medic::test::write_file;

namespace {

const fs::path k_fixtures = fs::path(MEDIC_FIXTURES_DIR) / "proc";

} // namespace

TEST_CASE("CpuSampler reports total and per-CPU usage from captured files", "[sample][cpu]") {
  TempDir root;
  write_file(root / "stat", read_file(k_fixtures / "stat.cores.1"));
  CpuSampler sampler(root.path());
  REQUIRE(sampler.open());
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 1000));
  CHECK(sink.samples.empty()); // the first reading only primes the deltas

  // stat.cores.2: cpu0 moved by user 60, system 20, idle 100, iowait 10, softirq 5, steal 5;
  // cpu1 went offline (its line is gone).
  write_file(root / "stat", read_file(k_fixtures / "stat.cores.2"));
  REQUIRE(sampler.sample(sink, 2000));
  CHECK(sink.value("cpu.user_pct") == Approx(30));
  CHECK(sink.value("cpu.system_pct") == Approx(12.5));
  CHECK(sink.value("cpu.usage_pct") == Approx(45));
  CHECK(sink.value("cpu.core.user_pct", {{"cpu", "0"}}) == Approx(30));
  CHECK(sink.value("cpu.core.system_pct", {{"cpu", "0"}}) == Approx(12.5));
  CHECK(sink.value("cpu.core.iowait_pct", {{"cpu", "0"}}) == Approx(5));
  CHECK(sink.value("cpu.core.steal_pct", {{"cpu", "0"}}) == Approx(2.5));
  CHECK(sink.value("cpu.core.idle_pct", {{"cpu", "0"}}) == Approx(50));
  CHECK(sink.value("cpu.core.usage_pct", {{"cpu", "0"}}) == Approx(45));
  CHECK(sink.count("cpu.core.usage_pct") == 1); // nothing for the offline cpu1
  CHECK(sink.samples.front().time_ms == 2000);

  SECTION("a CPU back online starts over") {
    write_file(root / "stat", read_file(k_fixtures / "stat.cores.1"));
    sink.clear();
    REQUIRE(sampler.sample(sink, 3000));
    CHECK(sink.label_values("cpu.core.usage_pct", "cpu") == std::vector<std::string>{"0"});
    sink.clear();
    REQUIRE(sampler.sample(sink, 4000));
    CHECK(sink.count("cpu.core.usage_pct") == 2);
  }
}

TEST_CASE("CpuSampler per-CPU options and errors", "[sample][cpu]") {
  TempDir root;
  write_file(root / "stat", "cpu  10 0 10 80 0 0 0 0\ncpu0 5 0 5 40\ncpu1 5 0 5 40\n");
  RecordingSink sink;

  SECTION("per_core off") {
    CpuSampler sampler(root.path(), CpuConfig{.per_core = false});
    REQUIRE(sampler.open());
    REQUIRE(sampler.sample(sink, 1));
    write_file(root / "stat", "cpu  20 0 20 160 0 0 0 0\ncpu0 10 0 10 80\ncpu1 10 0 10 80\n");
    REQUIRE(sampler.sample(sink, 2));
    CHECK(sink.count("cpu.usage_pct") == 1);
    CHECK(sink.count("cpu.core.usage_pct") == 0);
  }
  SECTION("max_cores bounds the CPUs reported") {
    CpuSampler sampler(root.path(), CpuConfig{.per_core = true, .max_cores = 1});
    REQUIRE(sampler.open());
    REQUIRE(sampler.sample(sink, 1));
    write_file(root / "stat", "cpu  20 0 20 160 0 0 0 0\ncpu0 10 0 10 80\ncpu1 10 0 10 80\n");
    REQUIRE(sampler.sample(sink, 2));
    CHECK(sink.label_values("cpu.core.usage_pct", "cpu") == std::vector<std::string>{"0"});
  }
  SECTION("a bad per-CPU line names file and line, the rest is still reported") {
    CpuSampler sampler(root.path());
    REQUIRE(sampler.open());
    REQUIRE(sampler.sample(sink, 1));
    write_file(root / "stat", "cpu  20 0 20 160 0 0 0 0\ncpu0 10 0 x 80\ncpu1 10 0 10 80\n");
    const auto result = sampler.sample(sink, 2);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(),
               Catch::StartsWith((root / "stat").string() + ": line 2: 'cpu0' line: column 3"));
    CHECK(sink.count("cpu.usage_pct") == 1);
    CHECK(sink.label_values("cpu.core.usage_pct", "cpu") == std::vector<std::string>{"1"});
  }
  SECTION("max_cores 0 is refused") {
    CpuSampler sampler(root.path(), CpuConfig{.per_core = true, .max_cores = 0});
    const auto opened = sampler.open();
    REQUIRE_FALSE(opened);
    CHECK_THAT(opened.error().message(), Catch::Contains("cpu.max_cores"));
  }
}

TEST_CASE("CpuSampler per-CPU on the real /proc", "[sample][cpu][real]") {
  CpuSampler sampler;
  REQUIRE(sampler.open());
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 0));
  medic::test::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(sampler.sample(sink, 50));
  REQUIRE(sink.count("cpu.core.usage_pct") >= 1);
  for (const auto& sample : sink.samples) {
    CHECK(sample.value >= 0);
    CHECK(sample.value <= 100);
  }
}
