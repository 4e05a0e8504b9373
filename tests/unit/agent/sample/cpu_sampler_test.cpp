// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/cpu_sampler.hpp"

#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using medic::ErrorCode;
using medic::agent::sample::cpu_usage;
using medic::agent::sample::CpuSampler;
using medic::agent::sample::CpuTimes;
using medic::agent::sample::CpuUsage;
using medic::agent::sample::parse_cpu_total;

using medic::test::TempDir;

namespace {

const fs::path k_fixtures = fs::path(MEDIC_FIXTURES_DIR) / "proc";

void check_sane(const CpuUsage& usage) {
  for (const double value : {usage.user_pct, usage.system_pct, usage.iowait_pct, usage.steal_pct,
                             usage.idle_pct, usage.busy_pct}) {
    CHECK_FALSE(std::isnan(value));
    CHECK(value >= 0.0);
    CHECK(value <= 100.0 + 1e-9);
  }
}

double sum_of_parts(const CpuUsage& usage) {
  return usage.user_pct + usage.system_pct + usage.iowait_pct + usage.steal_pct + usage.idle_pct;
}

void check_all_zero(const CpuUsage& usage) {
  CHECK(usage.user_pct == 0.0);
  CHECK(usage.system_pct == 0.0);
  CHECK(usage.iowait_pct == 0.0);
  CHECK(usage.steal_pct == 0.0);
  CHECK(usage.idle_pct == 0.0);
  CHECK(usage.busy_pct == 0.0);
}

} // namespace

TEST_CASE("parse_cpu_total reads the aggregate line of a captured /proc/stat",
          "[agent][sample][cpu]") {
  // cpu  3533 0 1827 90655 458 0 90 866 0 0
  const auto times = parse_cpu_total(medic::test::read_file(k_fixtures / "stat.1"));
  REQUIRE(times);
  CHECK(*times == CpuTimes{.user = 3533,
                           .nice = 0,
                           .system = 1827,
                           .idle = 90655,
                           .iowait = 458,
                           .irq = 0,
                           .softirq = 90,
                           .steal = 866});
  CHECK(times->total() == 3533 + 1827 + 90655 + 458 + 90 + 866);
  CHECK(times->busy() == 3533 + 1827 + 90 + 866);
}

TEST_CASE("parse_cpu_total does not add guest time twice", "[agent][sample][cpu]") {
  // root-a: cpu  6000 400 1500 80000 1000 100 200 300 50 10 (guest 50, guest_nice 10)
  const auto times = parse_cpu_total(medic::test::read_file(k_fixtures / "root-a" / "stat"));
  REQUIRE(times);
  CHECK(times->user == 6000);
  CHECK(times->nice == 400);
  CHECK(times->steal == 300);
  CHECK(times->total() == 6000 + 400 + 1500 + 80000 + 1000 + 100 + 200 + 300);
  CHECK(times->busy() == 6000 + 400 + 1500 + 100 + 200 + 300);
}

TEST_CASE("parse_cpu_total accepts older kernels with fewer columns", "[agent][sample][cpu]") {
  SECTION("2.4: user nice system idle") {
    const auto times = parse_cpu_total(medic::test::read_file(k_fixtures / "stat.old-kernel"));
    REQUIRE(times);
    CHECK(*times == CpuTimes{.user = 1000, .nice = 20, .system = 300, .idle = 8680});
    CHECK(times->iowait == 0);
    CHECK(times->steal == 0);
  }
  SECTION("2.6.0 to 2.6.10: no steal column") {
    const auto times = parse_cpu_total("cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\n");
    REQUIRE(times);
    CHECK(*times == CpuTimes{1, 2, 3, 4, 5, 6, 7, 0});
  }
  SECTION("future kernels: extra columns are ignored") {
    const auto times = parse_cpu_total("cpu 1 2 3 4 5 6 7 8 9 10 11 12");
    REQUIRE(times);
    CHECK(*times == CpuTimes{1, 2, 3, 4, 5, 6, 7, 8});
  }
  SECTION("the aggregate line need not come first and may lack a newline") {
    const auto times = parse_cpu_total("cpu0 9 9 9 9\ncpu\t10 20 30 40");
    REQUIRE(times);
    CHECK(*times == CpuTimes{.user = 10, .nice = 20, .system = 30, .idle = 40});
  }
}

TEST_CASE("parse_cpu_total rejects what it cannot read, saying why", "[agent][sample][cpu]") {
  SECTION("malformed number") {
    const auto times = parse_cpu_total(medic::test::read_file(k_fixtures / "stat.malformed"));
    REQUIRE_FALSE(times);
    CHECK(times.error().code() == ErrorCode::invalid_argument);
    CHECK_THAT(times.error().message(), Catch::Contains("column 3 '18x7'"));
  }
  SECTION("too few columns") {
    const auto times = parse_cpu_total("cpu  1 2 3\n");
    REQUIRE_FALSE(times);
    CHECK_THAT(times.error().message(), Catch::Contains("has 3 numbers"));
    CHECK_THAT(times.error().message(), Catch::Contains("at least 4"));
  }
  SECTION("negative number") {
    const auto times = parse_cpu_total("cpu  1 -2 3 4\n");
    REQUIRE_FALSE(times);
    CHECK_THAT(times.error().message(), Catch::Contains("column 2 '-2'"));
  }
  SECTION("number beyond 64 bits") {
    const auto times = parse_cpu_total("cpu  1 2 3 184467440737095516160\n");
    REQUIRE_FALSE(times);
    CHECK_THAT(times.error().message(), Catch::Contains("column 4"));
  }
  SECTION("only per-CPU lines") {
    const auto times = parse_cpu_total("cpu0 1 2 3 4\ncpu1 1 2 3 4\nctxt 5\n");
    REQUIRE_FALSE(times);
    CHECK_THAT(times.error().message(), Catch::Contains("no aggregate 'cpu' line"));
  }
  SECTION("empty") {
    const auto times = parse_cpu_total("");
    REQUIRE_FALSE(times);
    CHECK_THAT(times.error().message(), Catch::Contains("no aggregate 'cpu' line"));
  }
}

TEST_CASE("cpu_usage between two captured samples", "[agent][sample][cpu]") {
  const auto before = parse_cpu_total(medic::test::read_file(k_fixtures / "stat.1"));
  const auto after = parse_cpu_total(medic::test::read_file(k_fixtures / "stat.2"));
  REQUIRE(before);
  REQUIRE(after);
  // stat.1: cpu  3533 0 1827 90655 458 0 90 866 0 0
  // stat.2: cpu  3624 0 1837 90754 458 0 90 866 0 0
  const double user = 3624 - 3533;
  const double system = 1837 - 1827;
  const double idle = 90754 - 90655;
  const double total = user + system + idle;
  const CpuUsage usage = cpu_usage(*before, *after);
  CHECK(usage.user_pct == Approx(user / total * 100)); // 45.5
  CHECK(usage.system_pct == Approx(system / total * 100));
  CHECK(usage.idle_pct == Approx(idle / total * 100));
  CHECK(usage.iowait_pct == 0.0);
  CHECK(usage.steal_pct == 0.0);
  CHECK(usage.busy_pct == Approx(100 - idle / total * 100)); // 50.5
  CHECK(sum_of_parts(usage) == Approx(100));
}

TEST_CASE("cpu_usage folds nice into user and irq, softirq into system", "[agent][sample][cpu]") {
  const CpuTimes before{100, 10, 50, 1000, 5, 1, 2, 3};
  const CpuTimes after{200, 30, 90, 1200, 25, 6, 17, 23};
  // Deltas: user 100, nice 20, system 40, idle 200, iowait 20, irq 5, softirq 15, steal 20.
  const double total = 100 + 20 + 40 + 200 + 20 + 5 + 15 + 20;
  const CpuUsage usage = cpu_usage(before, after);
  CHECK(usage.user_pct == Approx((100 + 20) / total * 100));
  CHECK(usage.system_pct == Approx((40 + 5 + 15) / total * 100));
  CHECK(usage.iowait_pct == Approx(20 / total * 100));
  CHECK(usage.steal_pct == Approx(20 / total * 100));
  CHECK(usage.idle_pct == Approx(200 / total * 100));
  CHECK(usage.busy_pct == Approx(100 - (200 + 20) / total * 100));
  CHECK(sum_of_parts(usage) == Approx(100));
}

TEST_CASE("cpu_usage never divides by zero or goes negative", "[agent][sample][cpu]") {
  const CpuTimes times{3533, 0, 1827, 90655, 458, 0, 90, 866};
  SECTION("no tick elapsed") {
    const CpuUsage usage = cpu_usage(times, times);
    check_all_zero(usage);
  }
  SECTION("every counter went backwards") {
    const CpuUsage usage = cpu_usage(times, CpuTimes{1, 0, 1, 1, 0, 0, 0, 0});
    check_all_zero(usage);
  }
  SECTION("iowait went backwards, the rest moved on") {
    CpuTimes after = times;
    after.user += 30;
    after.idle += 70;
    after.iowait -= 50;
    const CpuUsage usage = cpu_usage(times, after);
    check_sane(usage);
    CHECK(usage.iowait_pct == 0.0);
    CHECK(usage.user_pct == Approx(30));
    CHECK(usage.idle_pct == Approx(70));
    CHECK(usage.busy_pct == Approx(30));
  }
  SECTION("counters that would overflow a 64-bit sum") {
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    const CpuUsage usage = cpu_usage(CpuTimes{}, CpuTimes{max, max, max, max, max, max, max, max});
    check_sane(usage);
    CHECK(usage.idle_pct == Approx(100.0 / 8));
    CHECK(sum_of_parts(usage) == Approx(100));
  }
}

TEST_CASE("CpuSampler on a fixture root", "[agent][sample][cpu]") {
  TempDir root;
  medic::test::write_file(root.path() / "stat",
                          medic::test::read_file(k_fixtures / "root-a" / "stat"));
  CpuSampler sampler(root.path());
  REQUIRE(sampler.open());

  const auto first = sampler.sample();
  REQUIRE(first);
  CHECK_FALSE(first->has_value());

  SECTION("unchanged file: no elapsed tick") {
    const auto second = sampler.sample();
    REQUIRE(second);
    REQUIRE(second->has_value());
    check_all_zero(**second);
  }
  SECTION("changed file: usage since the previous sample") {
    // root-a: cpu  6000 400 1500 80000 1000 100 200 300 50 10
    medic::test::write_file(root.path() / "stat",
                            "cpu  6100 410 1530 80300 1020 105 215 320 60 10\n");
    const auto second = sampler.sample();
    REQUIRE(second);
    REQUIRE(second->has_value());
    const CpuUsage& usage = **second;
    // Deltas: user 100, nice 10, system 30, idle 300, iowait 20, irq 5, softirq 15, steal 20.
    const double total = 100 + 10 + 30 + 300 + 20 + 5 + 15 + 20; // 500
    CHECK(usage.user_pct == Approx(110 / total * 100));          // 22
    CHECK(usage.system_pct == Approx(50 / total * 100));         // 10
    CHECK(usage.iowait_pct == Approx(20 / total * 100));         // 4
    CHECK(usage.steal_pct == Approx(20 / total * 100));          // 4
    CHECK(usage.idle_pct == Approx(300 / total * 100));          // 60
    CHECK(usage.busy_pct == Approx(180 / total * 100));          // 36
  }
  SECTION("a malformed sample fails and the next good one spans both intervals") {
    medic::test::write_file(root.path() / "stat", "cpu  6050 oops\n");
    const auto bad = sampler.sample();
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message(), Catch::StartsWith((root.path() / "stat").string() + ": "));
    CHECK_THAT(bad.error().message(), Catch::Contains("'oops'"));

    medic::test::write_file(root.path() / "stat",
                            "cpu  6100 400 1500 80100 1000 100 200 300 50 10\n");
    const auto good = sampler.sample();
    REQUIRE(good);
    REQUIRE(good->has_value());
    CHECK((*good)->user_pct == Approx(50));
    CHECK((*good)->idle_pct == Approx(50));
  }
  SECTION("open() starts over") {
    REQUIRE(sampler.open());
    const auto again = sampler.sample();
    REQUIRE(again);
    CHECK_FALSE(again->has_value());
  }
}

TEST_CASE("CpuSampler open and sample errors", "[agent][sample][cpu]") {
  SECTION("missing root") {
    const fs::path root = k_fixtures / "no-such-root";
    CpuSampler sampler(root);
    const auto opened = sampler.open();
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code() == ErrorCode::not_found);
    CHECK_THAT(opened.error().message(), Catch::Contains((root / "stat").string()));
  }
  SECTION("unparsable stat fails at open, naming file and column") {
    TempDir root;
    medic::test::write_file(root.path() / "stat",
                            medic::test::read_file(k_fixtures / "stat.malformed"));
    CpuSampler sampler(root.path());
    const auto opened = sampler.open();
    REQUIRE_FALSE(opened);
    CHECK_THAT(opened.error().message(), Catch::Contains((root.path() / "stat").string()));
    CHECK_THAT(opened.error().message(), Catch::Contains("'18x7'"));
    // A failed open leaves nothing half-open behind.
    CHECK_FALSE(sampler.sample());
  }
  SECTION("sample before open") {
    CpuSampler sampler(k_fixtures / "root-a");
    const auto usage = sampler.sample();
    REQUIRE_FALSE(usage);
    CHECK(usage.error().code() == ErrorCode::internal);
    CHECK_THAT(usage.error().message(), Catch::Contains("before a successful open()"));
  }
}

TEST_CASE("CpuSampler on the real /proc sees a busy loop", "[agent][sample][cpu][real]") {
  CpuSampler sampler;
  REQUIRE(sampler.open());
  const auto first = sampler.sample();
  REQUIRE(first);
  CHECK_FALSE(first->has_value());

  // Spin long enough for the tick-based accounting (USER_HZ, usually 100/s) to notice.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile std::uint64_t spins = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    spins = spins + 1;
  }

  const auto second = sampler.sample();
  REQUIRE(second);
  REQUIRE(second->has_value());
  const CpuUsage& usage = **second;
  check_sane(usage);
  CHECK(sum_of_parts(usage) == Approx(100).margin(1e-6));
  CHECK(usage.busy_pct > 0.0);
  CHECK(usage.user_pct > 0.0);
  CHECK(usage.busy_pct == Approx(100 - usage.idle_pct - usage.iowait_pct).margin(1e-6));
}
