// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/code_fence.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/page_map.hpp"
#include "tests/support/temp_dir.hpp"

using namespace medic::agent::loop;

namespace {

constexpr std::size_t k_page = 4096;
constexpr std::size_t k_pages = 64;

// A real file of 64 pages, mapped privately and read-only as code is. Written just now, it is
// all in the page cache: what the kernel's fault-around maps beside a faulting page.
struct MappedFile {
  medic::test::TempDir dir;
  int fd = -1;
  char* at = nullptr;
  MappedFile() {
    const std::string path = (dir.path() / "code.bin").string();
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    std::string page(k_page, 'x');
    for (std::size_t i = 0; i < k_pages; ++i) {
      REQUIRE(::write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size()));
    }
    void* mapped = ::mmap(nullptr, k_pages * k_page, PROT_READ, MAP_PRIVATE, fd, 0);
    REQUIRE(mapped != MAP_FAILED);
    at = static_cast<char*>(mapped);
  }
  ~MappedFile() {
    ::munmap(at, k_pages * k_page);
    ::close(fd);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Lines of /proc/self/maps inside this mapping.
  [[nodiscard]] int mappings() const {
    std::ifstream maps("/proc/self/maps");
    const auto lo = reinterpret_cast<std::uintptr_t>(at);
    const auto hi = lo + k_pages * k_page;
    int count = 0;
    for (std::string line; std::getline(maps, line);) {
      unsigned long from = 0;
      unsigned long to = 0;
      if (std::sscanf(line.c_str(), "%lx-%lx", &from, &to) == 2 && from >= lo && to <= hi) {
        ++count;
      }
    }
    return count;
  }
  // Whether page `i` is mapped in this process.
  [[nodiscard]] bool present(std::size_t i) const {
    return medic::test::page_mapped(at + i * k_page);
  }
};

CodeRunTable table_of(std::initializer_list<CodeRun> runs) {
  CodeRunTable table{};
  std::memcpy(table.magic, CodeRunTable::k_magic, sizeof(table.magic));
  table.capacity = CodeRunTable::k_capacity;
  for (const CodeRun& run : runs) {
    table.runs[table.count++] = run;
  }
  return table;
}

} // namespace

TEST_CASE("a fenced run of pages is a mapping of its own, and a fault in it maps only its pages",
          "[code-fence]") {
  MappedFile file;
  REQUIRE(file.mappings() == 1);
  // A steady-state run with a start-up run right after it: they stay apart.
  const CodeRunTable table =
      table_of({{16, 8, CodeKind::steady}, {24, 4, CodeKind::start_up}, {40, 4, CodeKind::steady}});
  CHECK(fence_code(table, reinterpret_cast<std::uintptr_t>(file.at)) == 3);
  // Gap, run, run, gap, run, gap.
  CHECK(file.mappings() == 6);

  // Touch one page in the middle of the first run. Without the fence the kernel maps the cached
  // pages of the aligned 64 KiB around it (pages 16-31); with it, none outside pages 16-23.
  volatile char byte = file.at[20 * k_page];
  (void)byte;
  CHECK(file.present(20));
  for (std::size_t i = 0; i < k_pages; ++i) {
    if (i < 16 || i >= 24) {
      INFO("page " << i);
      CHECK_FALSE(file.present(i));
    }
  }
  // The data is the file's: the fence changes no contents.
  CHECK(file.at[20 * k_page + 7] == 'x');
}

TEST_CASE("a table that is not a code-run table fences nothing", "[code-fence]") {
  MappedFile file;
  const auto base = reinterpret_cast<std::uintptr_t>(file.at);
  constexpr CodeRun k_run{16, 8, CodeKind::steady};
  CodeRunTable bad_magic = table_of({k_run});
  bad_magic.magic[0] = 'X';
  CHECK(fence_code(bad_magic, base) == 0);
  CodeRunTable bad_count = table_of({k_run});
  bad_count.count = CodeRunTable::k_capacity + 1;
  CHECK(fence_code(bad_count, base) == 0);
  CodeRunTable empty = table_of({});
  CHECK(fence_code(empty, base) == 0);
  CHECK(file.mappings() == 1);
  // A run past the mapping is skipped; the others still count.
  CodeRunTable outside = table_of({k_run, {1u << 30, 1, CodeKind::steady}});
  CHECK(fence_code(outside, base) == 1);
}

TEST_CASE("the executable's own table is used once", "[code-fence]") {
  // This test binary's table was never written (only the static agent's is): nothing to fence,
  // and a second call does nothing either.
  CHECK(medic_code_runs.count == 0);
  CHECK(std::memcmp(medic_code_runs.magic, CodeRunTable::k_magic, sizeof(medic_code_runs.magic)) ==
        0);
  CHECK(fence_own_code() == 0);
  CHECK(fence_own_code() == 0);
}

TEST_CASE("a range is split around the steady state's runs, not the start-up ones",
          "[code-fence]") {
  constexpr std::uintptr_t k_base = 0x100000;
  const auto at = [](std::uintptr_t page) { return k_base + page * k_page; };
  const CodeRunTable table = table_of({{4, 2, CodeKind::steady},
                                       {6, 3, CodeKind::start_up},
                                       {10, 1, CodeKind::steady},
                                       {11, 2, CodeKind::steady},
                                       {30, 5, CodeKind::steady}});
  std::array<AddressRange, 8> out{};
  const auto parts = [&](std::uintptr_t from, std::uintptr_t to) {
    const std::size_t count = outside_steady_runs(table, k_base, {at(from), at(to)}, out);
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> pages;
    for (std::size_t i = 0; i < count; ++i) {
      pages.emplace_back((out[i].lo - k_base) / k_page, (out[i].hi - k_base) / k_page);
    }
    return pages;
  };
  using Pages = std::vector<std::pair<std::uintptr_t, std::uintptr_t>>;
  // The start-up run (6-8) is released with the gaps; the adjacent steady runs 10 and 11-12 as
  // one.
  CHECK(parts(0, 40) == Pages{{0, 4}, {6, 10}, {13, 30}, {35, 40}});
  // Ranges that begin or end inside a steady run.
  CHECK(parts(5, 31) == Pages{{6, 10}, {13, 30}});
  CHECK(parts(11, 12) == Pages{});
  CHECK(parts(14, 20) == Pages{{14, 20}});
  // A range outside every run, before and after them.
  CHECK(parts(0, 3) == Pages{{0, 3}});
  CHECK(parts(50, 60) == Pages{{50, 60}});
}

TEST_CASE("a range is kept whole without a table, and parts that do not fit are kept mapped",
          "[code-fence]") {
  constexpr std::uintptr_t k_base = 0x100000;
  const AddressRange range{k_base, k_base + 40 * k_page};
  std::array<AddressRange, 2> out{};
  CodeRunTable bad_magic = table_of({{4, 2, CodeKind::steady}});
  bad_magic.magic[0] = 'X';
  REQUIRE(outside_steady_runs(bad_magic, k_base, range, out) == 1);
  CHECK(out[0].lo == range.lo);
  CHECK(out[0].hi == range.hi);
  REQUIRE(outside_steady_runs(table_of({}), k_base, range, out) == 1);
  CHECK(out[0].hi == range.hi);
  // Three gaps, room for two: the last is left out (it stays mapped, as if steady).
  const CodeRunTable two_runs = table_of({{4, 2, CodeKind::steady}, {10, 2, CodeKind::steady}});
  REQUIRE(outside_steady_runs(two_runs, k_base, range, out) == 2);
  CHECK(out[1].lo == k_base + 6 * k_page);
  CHECK(out[1].hi == k_base + 10 * k_page);
  // A run out of order (before the one above it) is skipped; the gaps stay right.
  const CodeRunTable unordered = table_of({{10, 2, CodeKind::steady}, {4, 2, CodeKind::steady}});
  REQUIRE(outside_steady_runs(unordered, k_base, range, out) == 2);
  CHECK(out[0].hi == k_base + 10 * k_page);
  CHECK(out[1].lo == k_base + 12 * k_page);
}
