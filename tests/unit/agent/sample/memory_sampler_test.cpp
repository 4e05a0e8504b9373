// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/memory_sampler.hpp"

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using medic::ErrorCode;
using medic::agent::sample::MemoryInfo;
using medic::agent::sample::MemorySampler;
using medic::agent::sample::parse_meminfo;

using medic::test::TempDir;

namespace {

const fs::path k_fixtures = fs::path(MEDIC_FIXTURES_DIR) / "proc";
constexpr std::uint64_t k_kib = 1024;

} // namespace

TEST_CASE("parse_meminfo reads a captured /proc/meminfo", "[agent][sample][memory]") {
  const auto info = parse_meminfo(medic::test::read_file(k_fixtures / "meminfo"));
  REQUIRE(info);
  CHECK(info->total_bytes == 24684096 * k_kib);
  CHECK(info->free_bytes == 24269284 * k_kib);
  CHECK(info->available_bytes == 24241508 * k_kib);
  CHECK(info->swap_total_bytes == 0);
  CHECK(info->swap_free_bytes == 0);
  CHECK(info->used_pct() == Approx((24684096.0 - 24241508.0) / 24684096.0 * 100));
  CHECK(info->swap_used_pct() == 0.0);
}

TEST_CASE("parse_meminfo on a fixture with swap in use", "[agent][sample][memory]") {
  const auto info = parse_meminfo(medic::test::read_file(k_fixtures / "root-a" / "meminfo"));
  REQUIRE(info);
  CHECK(*info == MemoryInfo{.total_bytes = 4000000 * k_kib,
                            .available_bytes = 1000000 * k_kib,
                            .free_bytes = 500000 * k_kib,
                            .swap_total_bytes = 2000000 * k_kib,
                            .swap_free_bytes = 1500000 * k_kib});
  CHECK(info->used_pct() == Approx(75));      // (4000000 - 1000000) / 4000000
  CHECK(info->swap_used_pct() == Approx(25)); // (2000000 - 1500000) / 2000000
}

TEST_CASE("parse_meminfo estimates MemAvailable on old kernels", "[agent][sample][memory]") {
  const auto info = parse_meminfo(medic::test::read_file(k_fixtures / "meminfo.old-kernel"));
  REQUIRE(info);
  // MemFree + Buffers + Cached + SReclaimable.
  const std::uint64_t available_kb = 314520 + 120452 + 901372 + 95012;
  CHECK(info->available_bytes == available_kb * k_kib);
  CHECK(info->total_bytes == 2059768 * k_kib);
  CHECK(info->used_pct() == Approx((2059768.0 - available_kb) / 2059768.0 * 100));
  CHECK(info->swap_used_pct() == Approx((4194300.0 - 4192236.0) / 4194300.0 * 100));

  SECTION("without SReclaimable (before 2.6.19) it counts as 0") {
    const auto older = parse_meminfo(
        "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\n"
        "Cached: 300 kB\n");
    REQUIRE(older);
    CHECK(older->available_bytes == 420 * k_kib);
  }
}

TEST_CASE("parse_meminfo ignores lines it does not use", "[agent][sample][memory]") {
  const auto info = parse_meminfo(
      "Garbage without a colon\nHugePages_Total:       0\n"
      "Weird: not a number\nMemTotal: 2048 kB\nMemAvailable: 1024 kB");
  REQUIRE(info);
  CHECK(info->total_bytes == 2048 * k_kib);
  CHECK(info->available_bytes == 1024 * k_kib);
  CHECK(info->used_pct() == Approx(50));
}

TEST_CASE("parse_meminfo stops once it has the keys it uses", "[agent][sample][memory]") {
  // MemAvailable present: nothing after SwapFree is parsed (about 40 of /proc/meminfo's lines),
  // not even a key of the old kernels' estimate, so a bad one there goes unseen.
  const auto info = parse_meminfo(
      "MemTotal: 2048 kB\nMemFree: 512 kB\nMemAvailable: 1024 kB\nSwapTotal: 100 kB\n"
      "SwapFree: 25 kB\nSReclaimable: 12x kB\n");
  REQUIRE(info);
  CHECK(info->swap_used_pct() == Approx(75));
  // Without MemAvailable the estimate needs the later keys: those are still read and checked.
  CHECK_FALSE(
      parse_meminfo("MemTotal: 2048 kB\nMemFree: 512 kB\nSwapTotal: 100 kB\n"
                    "SwapFree: 25 kB\nSReclaimable: 12x kB\n"));
}

TEST_CASE("parse_meminfo rejects malformed input, quoting the line", "[agent][sample][memory]") {
  SECTION("not a number") {
    const auto info = parse_meminfo(medic::test::read_file(k_fixtures / "meminfo.malformed"));
    REQUIRE_FALSE(info);
    CHECK(info.error().code() == ErrorCode::invalid_argument);
    CHECK_THAT(info.error().message(), Catch::Contains("'MemFree:         12x4000 kB'"));
    CHECK_THAT(info.error().message(), Catch::Contains("not followed by the unit kB"));
  }
  SECTION("no number at all") {
    const auto info = parse_meminfo("MemTotal: 1000 kB\nSwapFree: kB\n");
    REQUIRE_FALSE(info);
    CHECK_THAT(info.error().message(), Catch::Contains("'SwapFree: kB'"));
    CHECK_THAT(info.error().message(), Catch::Contains("not a number"));
  }
  SECTION("no unit") {
    const auto info = parse_meminfo("MemTotal: 1000\n");
    REQUIRE_FALSE(info);
    CHECK_THAT(info.error().message(), Catch::Contains("'MemTotal: 1000'"));
    CHECK_THAT(info.error().message(), Catch::Contains("unit kB"));
  }
  SECTION("too large in bytes") {
    const auto info = parse_meminfo("MemTotal: 18014398509481984 kB\n"); // 2^54 kB = 2^64 B
    REQUIRE_FALSE(info);
    CHECK_THAT(info.error().message(), Catch::Contains("does not fit in 64 bits"));
  }
  SECTION("too large for 64 bits") {
    const auto info = parse_meminfo("MemTotal: 99999999999999999999 kB\n");
    REQUIRE_FALSE(info);
    CHECK_THAT(info.error().message(), Catch::Contains("does not fit in 64 bits"));
  }
  SECTION("no MemTotal") {
    const auto info = parse_meminfo("MemFree: 100 kB\nMemAvailable: 200 kB\n");
    REQUIRE_FALSE(info);
    CHECK_THAT(info.error().message(), Catch::Contains("no MemTotal line"));
  }
  SECTION("MemTotal of 0") {
    const auto info = parse_meminfo("MemTotal: 0 kB\n");
    REQUIRE_FALSE(info);
    CHECK_THAT(info.error().message(), Catch::Contains("MemTotal is 0"));
  }
}

TEST_CASE("MemoryInfo percentages stay within 0..100", "[agent][sample][memory]") {
  SECTION("available above total") {
    const MemoryInfo info{.total_bytes = 100, .available_bytes = 150};
    CHECK(info.used_pct() == 0.0);
  }
  SECTION("nothing available") {
    const MemoryInfo info{.total_bytes = 100, .available_bytes = 0};
    CHECK(info.used_pct() == Approx(100));
  }
  SECTION("no memory at all (never from parse_meminfo)") {
    const MemoryInfo info{};
    CHECK(info.used_pct() == 0.0);
    CHECK(info.swap_used_pct() == 0.0);
  }
  SECTION("swap free above swap total") {
    const MemoryInfo info{.total_bytes = 1, .swap_total_bytes = 10, .swap_free_bytes = 20};
    CHECK(info.swap_used_pct() == 0.0);
  }
  SECTION("swap full") {
    const MemoryInfo info{.total_bytes = 1, .swap_total_bytes = 10, .swap_free_bytes = 0};
    CHECK(info.swap_used_pct() == Approx(100));
  }
}

TEST_CASE("MemorySampler on a fixture root", "[agent][sample][memory]") {
  MemorySampler sampler(k_fixtures / "root-a");
  REQUIRE(sampler.open());
  for (int round = 0; round < 2; ++round) {
    const auto info = sampler.sample();
    REQUIRE(info);
    CHECK(info->total_bytes == 4000000 * k_kib);
    CHECK(info->available_bytes == 1000000 * k_kib);
    CHECK(info->used_pct() == Approx(75));
    CHECK(info->swap_used_pct() == Approx(25));
  }
}

TEST_CASE("MemorySampler open and sample errors", "[agent][sample][memory]") {
  SECTION("missing root") {
    const fs::path root = k_fixtures / "no-such-root";
    MemorySampler sampler(root);
    const auto opened = sampler.open();
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code() == ErrorCode::not_found);
    CHECK_THAT(opened.error().message(), Catch::Contains((root / "meminfo").string()));
  }
  SECTION("unparsable meminfo fails at open, naming file and line") {
    TempDir root;
    fs::copy_file(k_fixtures / "meminfo.malformed", root.path() / "meminfo");
    MemorySampler sampler(root.path());
    const auto opened = sampler.open();
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code() == ErrorCode::invalid_argument);
    CHECK_THAT(opened.error().message(),
               Catch::StartsWith((root.path() / "meminfo").string() + ": line 'MemFree:"));
    CHECK_FALSE(sampler.sample());
  }
  SECTION("sample before open") {
    MemorySampler sampler(k_fixtures / "root-a");
    const auto info = sampler.sample();
    REQUIRE_FALSE(info);
    CHECK(info.error().code() == ErrorCode::internal);
  }
}

TEST_CASE("MemorySampler on the real /proc", "[agent][sample][memory][real]") {
  MemorySampler sampler;
  REQUIRE(sampler.open());
  const auto info = sampler.sample();
  REQUIRE(info);
  CHECK(info->total_bytes > 0);
  CHECK(info->total_bytes % k_kib == 0);
  CHECK(info->available_bytes <= info->total_bytes);
  CHECK(info->free_bytes <= info->total_bytes);
  CHECK(info->swap_free_bytes <= info->swap_total_bytes);
  CHECK(info->used_pct() > 0.0);
  CHECK(info->used_pct() < 100.0);
  CHECK(info->swap_used_pct() >= 0.0);
  CHECK(info->swap_used_pct() <= 100.0);
}
