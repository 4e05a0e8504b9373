// SPDX-License-Identifier: Apache-2.0
#include "tools/code_runs/code_runs.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

using namespace medic::tools;

// Two functions of this binary the tests look up by name (external, not inlined away).
extern "C" [[gnu::noinline, gnu::used]] int medic_code_runs_probe_a(int x) {
  return x * 3 + 1;
}
extern "C" [[gnu::noinline, gnu::used]] int medic_code_runs_probe_b(int x) {
  return x * 5 + 2;
}

namespace {

// This test binary's own bytes: a real linked ELF executable with a symbol table and a
// medic_code_runs table (from medic_agent).
std::string own_binary() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return std::move(bytes).str();
}

std::uint64_t own_page_of(const void* function) {
  return (reinterpret_cast<std::uintptr_t>(function) - medic::agent::loop::executable_base()) /
         4096;
}

bool covered(const std::vector<CodeRun>& runs, std::uint64_t page) {
  return std::any_of(runs.begin(), runs.end(), [&](const CodeRun& run) {
    return page >= run.first_page && page < std::uint64_t{run.first_page} + run.pages;
  });
}

} // namespace

TEST_CASE("an order file's names skip comments and blank lines, by group", "[code-runs]") {
  const auto plain = read_order_file("# header\n\nmain\n  _start \r\n#commented\nuv_run");
  CHECK(plain.steady.size() == 3);
  CHECK(plain.steady.contains("main"));
  CHECK(plain.steady.contains("_start"));
  CHECK(plain.steady.contains("uv_run"));
  CHECK(plain.start_up.empty());

  const auto grouped = read_order_file(
      "# header\nuv_run\n# medic: start-up\nmain\n_start\n# medic: other CPUs\navx2_scan\n");
  // Other CPU families' copies of the steady state's code are steady: the agent runs one of them
  // on a CPU unlike the profiled one.
  CHECK(grouped.steady == std::unordered_set<std::string>{"uv_run", "avx2_scan"});
  CHECK(grouped.start_up == std::unordered_set<std::string>{"main", "_start"});
}

TEST_CASE("the runs cover the pages of the listed functions of a real executable", "[code-runs]") {
  CHECK(medic_code_runs_probe_a(1) + medic_code_runs_probe_b(1) == 11);
  const std::string elf = own_binary();
  auto runs = listed_code_runs(elf, {{"medic_code_runs_probe_a", "medic_code_runs_probe_b"}, {}});
  REQUIRE(runs);
  REQUIRE_FALSE(runs->empty());
  CHECK(runs->size() <= 2);
  // Where the functions run now, as pages from the load address, is where the runs say.
  CHECK(covered(*runs, own_page_of(reinterpret_cast<const void*>(&medic_code_runs_probe_a))));
  CHECK(covered(*runs, own_page_of(reinterpret_cast<const void*>(&medic_code_runs_probe_b))));
  std::uint64_t pages = 0;
  for (const CodeRun& run : *runs) {
    pages += run.pages;
  }
  CHECK(pages <= 4); // two small functions: one or two pages each at most

  // Names the binary does not have give no runs.
  auto none = listed_code_runs(elf, {{"no_such_function_anywhere"}, {}});
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("a page with steady-state code is steady, the others of start-up code start-up",
          "[code-runs]") {
  const std::string elf = own_binary();
  const auto a = own_page_of(reinterpret_cast<const void*>(&medic_code_runs_probe_a));
  const auto b = own_page_of(reinterpret_cast<const void*>(&medic_code_runs_probe_b));
  auto runs = listed_code_runs(elf, {{"medic_code_runs_probe_a"}, {"medic_code_runs_probe_b"}});
  REQUIRE(runs);
  for (const CodeRun& run : *runs) {
    if (a >= run.first_page && a < std::uint64_t{run.first_page} + run.pages) {
      CHECK(run.kind == CodeKind::steady);
    } else {
      CHECK(run.kind == CodeKind::start_up);
    }
  }
  CHECK(covered(*runs, a));
  CHECK(covered(*runs, b));
}

TEST_CASE("more runs than the table holds are refused, saying how many", "[code-runs]") {
  const std::string elf = own_binary();
  const OrderFile names = {
      {"main", "medic_code_runs_probe_a", "medic_code_runs_probe_b", "malloc", "free"}, {}};
  auto all = listed_code_runs(elf, names);
  REQUIRE(all);
  REQUIRE(all->size() > 1);
  auto refused = listed_code_runs(elf, names, 1);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("at most 1"));
}

TEST_CASE("runs written into an executable's table read back", "[code-runs]") {
  std::string elf = own_binary();
  auto before = read_code_runs(elf);
  REQUIRE(before);
  CHECK(before->count == 0);
  const std::vector<CodeRun> runs = {
      {5, 2, CodeKind::steady}, {9, 1, CodeKind::start_up}, {100, 30, CodeKind::steady}};
  REQUIRE(write_code_runs(elf, runs));
  auto after = read_code_runs(elf);
  REQUIRE(after);
  REQUIRE(after->count == 3);
  CHECK(after->runs[0].first_page == 5);
  CHECK(after->runs[0].pages == 2);
  CHECK(after->runs[1].kind == CodeKind::start_up);
  CHECK(after->runs[2].first_page == 100);
  CHECK(after->runs[2].pages == 30);
  CHECK(after->runs[3].pages == 0);
  // The rest of the file is unchanged.
  const std::string original = own_binary();
  CHECK(elf.size() == original.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < elf.size(); ++i) {
    differing += elf[i] != original[i] ? 1 : 0;
  }
  CHECK(differing > 0);
  CHECK(differing <= 3 * sizeof(CodeRun) + sizeof(std::uint32_t));

  const std::vector<CodeRun> too_many(CodeRunTable::k_capacity + 1,
                                      CodeRun{1, 1, CodeKind::steady});
  auto refused = write_code_runs(elf, too_many);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("at most"));
}

TEST_CASE("bad input to the code-run tool is an error that says what", "[code-runs]") {
  auto not_elf = listed_code_runs("hello, not an executable", {{"main"}, {}});
  REQUIRE_FALSE(not_elf);
  CHECK_THAT(not_elf.error().message(), Catch::Contains("not an ELF64"));
  std::string truncated = own_binary().substr(0, 64);
  auto cut = listed_code_runs(truncated, {{"main"}, {}});
  REQUIRE_FALSE(cut);
  CHECK_THAT(cut.error().message(), Catch::Contains("past the end"));
  std::string empty;
  CHECK_FALSE(write_code_runs(empty, {}));
  CHECK_FALSE(read_code_runs(""));
}
