// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/footprint.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/loop/log_pipeline.hpp"
#include "tests/support/page_map.hpp"

using namespace medic::agent::loop;

TEST_CASE("the footprint reads VmRSS and VmHWM of this process", "[footprint]") {
  auto parsed =
      parse_status_memory("Name:\tmedic-agent\nVmHWM:\t  11588 kB\nVmRSS:\t    8872 kB\n");
  REQUIRE(parsed);
  CHECK(parsed->rss_bytes == 8872ULL * 1024);
  CHECK(parsed->peak_rss_bytes == 11588ULL * 1024);
  CHECK_FALSE(parse_status_memory("Name:\tx\nVmRSS:\tlots kB\n"));
  CHECK_FALSE(parse_status_memory("Name:\tx\n"));

  Footprint footprint;
  REQUIRE(footprint.open());
  auto reading = footprint.read();
  REQUIRE(reading);
  CHECK(reading->rss_bytes > 1024 * 1024);
  CHECK(reading->peak_rss_bytes >= reading->rss_bytes);
  CHECK(reading->cpu_seconds > 0);
}

TEST_CASE("releasing start-up code keeps the process working", "[footprint]") {
  CHECK(release_startup_code() >= 2); // at least this program and libc
  // Code runs again after its pages were dropped: they come back from the page cache.
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    text += std::to_string(i);
  }
  CHECK(text.size() == 2890);
  CHECK(release_startup_code() >= 2);
}

// A constant of 128 KiB: it lies in the program's read-only data (.rodata).
static const char k_read_only[32 * 4096] = "read-only data";
constexpr std::size_t k_read_only_middle = 16 * 4096;

// Whether one of `ranges` holds `address`.
static bool holds(std::span<const AddressRange> ranges, const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const AddressRange& r) { return r.lo <= at && at < r.hi; });
}

TEST_CASE("a release once the steady state runs keeps read-only data mapped", "[footprint]") {
  const ReleasePolicy policy;
  CHECK(policy.scope(2) == ReleaseScope::all);
  CHECK(policy.scope(6) == ReleaseScope::all);
  CHECK(policy.scope(7) == ReleaseScope::rarely_run_code);
  CHECK(policy.scope(30) == ReleaseScope::rarely_run_code);
  CHECK(policy.scope(5000) == ReleaseScope::rarely_run_code);

  // This program's code (its table of steady runs is empty: all of it may go) and data.
  const void* code = reinterpret_cast<const void*>(&release_ranges);
  const void* data = &k_read_only[k_read_only_middle];
  std::array<AddressRange, 128> ranges{};
  const std::size_t all = release_ranges(ReleaseScope::all, ranges);
  REQUIRE(all > 0);
  CHECK(holds(std::span(ranges.data(), all), code));
  CHECK(holds(std::span(ranges.data(), all), data));
  const std::size_t rarely_run = release_ranges(ReleaseScope::rarely_run_code, ranges);
  REQUIRE(rarely_run > 0);
  CHECK(holds(std::span(ranges.data(), rarely_run), code));
  CHECK_FALSE(holds(std::span(ranges.data(), rarely_run), data));

  // And so a page of the constant, touched, stays mapped through such a release.
  const auto* inside = static_cast<const volatile char*>(data);
  (void)*inside;
  REQUIRE(medic::test::page_mapped(data));
  CHECK(release_startup_code(ReleaseScope::rarely_run_code) >= 2);
  CHECK(medic::test::page_mapped(data));
  CHECK(std::string_view(k_read_only) == "read-only data");
}

// Pages of [offset, offset + length) of the file open at `fd` that are in the page cache.
static std::size_t cached_pages(int fd, off_t offset, std::size_t length) {
  void* map = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, offset);
  REQUIRE(map != MAP_FAILED);
  std::vector<unsigned char> resident(length / 4096);
  REQUIRE(mincore(map, length, resident.data()) == 0);
  munmap(map, length);
  std::size_t count = 0;
  for (unsigned char page : resident) {
    count += page & 1U;
  }
  return count;
}

TEST_CASE("releasing start-up code empties the page cache of the executable", "[footprint]") {
  // The file's last 64 KiB (symbol and debug tables) are never mapped: read them into the page
  // cache, then see them go, as every page of the program not mapped at that moment does.
  const int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  REQUIRE(exe >= 0);
  struct stat st {};
  REQUIRE(fstat(exe, &st) == 0);
  constexpr std::size_t k_tail = 64 * 1024;
  REQUIRE(static_cast<std::size_t>(st.st_size) > 2 * k_tail);
  const off_t tail = (st.st_size - static_cast<off_t>(k_tail)) & ~off_t{4095};
  std::vector<char> bytes(k_tail);
  // Other tests of this binary, run in parallel by ctest, start agents that drop its cache too:
  // read again when one did so between the read and the look.
  std::size_t cached = 0;
  for (int attempt = 0; attempt < 20 && cached != k_tail / 4096; ++attempt) {
    REQUIRE(pread(exe, bytes.data(), k_tail, tail) == static_cast<ssize_t>(k_tail));
    // A test binary linked moments ago still has dirty pages, which no one can drop before
    // they are written back (an installed agent's are clean).
    REQUIRE(fdatasync(exe) == 0);
    cached = cached_pages(exe, tail, k_tail);
  }
  REQUIRE(cached == k_tail / 4096);
  CHECK(release_startup_code() >= 2);
  CHECK(cached_pages(exe, tail, k_tail) == 0);
  close(exe);
}

TEST_CASE("the miner sees the message part of syslog and ISO-stamped lines", "[footprint]") {
  CHECK(log_message("Nov 23 01:02:03 db1 postgres[42]: FATAL: role \"x\" does not exist") ==
        "FATAL: role \"x\" does not exist");
  CHECK(log_message("2026-11-23T01:02:03.123Z web1 nginx: upstream timed out") ==
        "upstream timed out");
  CHECK(log_message("plain text line") == "plain text line");
  CHECK(log_message("") == "");
}

TEST_CASE("start-up code is released at the fixed ticks, then when resident memory regrows",
          "[footprint]") {
  constexpr std::uint64_t k_mib = 1024 * 1024;
  ReleasePolicy policy({.at_ticks = {2, 6, 30}, .regrowth_bytes = k_mib / 2, .min_gap_ticks = 60});
  std::vector<std::uint64_t> fixed;
  for (std::uint64_t tick = 1; tick <= 100; ++tick) {
    if (policy.scheduled(tick)) {
      fixed.push_back(tick);
    }
  }
  CHECK(fixed == std::vector<std::uint64_t>{2, 6, 30});
  policy.released(30);
  // Readings every 10 ticks. Not before the fixed schedule is over, whatever the growth.
  CHECK_FALSE(policy.regrown(30, 9 * k_mib));
  CHECK_FALSE(policy.regrown(40, 3 * k_mib + k_mib / 4)); // the first low
  CHECK_FALSE(policy.regrown(50, 3 * k_mib));             // a lower low
  CHECK_FALSE(policy.regrown(60, 3 * k_mib + k_mib / 4)); // grew by less than 512 KiB
  // Grown by 512 KiB over the low, but within 60 ticks of the last release.
  CHECK_FALSE(policy.regrown(80, 3 * k_mib + k_mib / 2));
  CHECK(policy.regrown(90, 3 * k_mib + k_mib / 2)); // 60 ticks after the release at 30
  policy.released(90);
  // A new low is learnt after each release, and the gap counts from it.
  CHECK_FALSE(policy.regrown(100, 4 * k_mib));
  CHECK_FALSE(policy.regrown(140, 5 * k_mib)); // 1 MiB over the low, 50 ticks after
  CHECK(policy.regrown(150, 5 * k_mib));
}
