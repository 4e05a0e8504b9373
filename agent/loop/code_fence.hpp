// SPDX-License-Identifier: Apache-2.0
// Fences the code the agent runs into mappings of its own, so that the kernel maps no more of the
// executable than that code around a page fault.
//
// On a fault in file-backed code, Linux maps every cached page in the 64 KiB around the faulting
// one (fault-around), and on a cache miss in executable code it reads ahead up to the disk's
// read_ahead_kb (8 MiB on some VMs, whatever MADV_RANDOM says). Code the agent runs sits between
// code it never runs: whole library objects come with one function (Debian's archives are not
// built with one section per function), so a steady state of about 700 KiB of functions kept
// 1.4-1.6 MiB of code resident. Both the fault-around and the read-ahead stop at the edge of a
// mapping (VMA). So at start, the pages holding the functions of the order file
// (cmake/static_agent/text_order.txt) are set apart by flags that split mappings and change
// nothing else here (see CodeKind), and a fault in one of them maps only listed functions' pages.
//
// The page runs come from the linked binary: medic-code-runs (tools/code_runs) writes them into
// `medic_code_runs` after the static agent's link. An unpatched table (any other build) is empty,
// and then nothing is fenced. A wrong table can only cost memory: the flags change no behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace medic::agent::loop {

// Which group of the order file a run's functions belong to. The two get different flags, so that
// a run of one never merges with a run of the other next to it: a fault in the steady state's
// code then never maps start-up code beside it.
enum class CodeKind : std::uint32_t {
  steady = 0,   // run in the steady state: MADV_NOHUGEPAGE
  start_up = 1, // run only while starting: MADV_DONTDUMP (file-backed code is not dumped anyway)
};

// One run of pages, as page numbers from the executable's load address (its ELF virtual
// addresses / 4096).
struct CodeRun {
  std::uint32_t first_page;
  std::uint32_t pages;
  CodeKind kind;
};

// The table's layout in the executable (.rodata), written in place after the link.
struct CodeRunTable {
  static constexpr std::size_t k_capacity = 1024;
  static constexpr char k_magic[16] = "medic-code-runs";
  char magic[16];
  std::uint32_t count;    // runs used; 0 in a binary nothing patched
  std::uint32_t capacity; // k_capacity, checked by the patcher
  CodeRun runs[k_capacity];
};

// Sets the table's runs, offset by `base` (the load address), apart as mappings of their own.
// Returns the number of runs fenced (0 for an empty or malformed table).
std::size_t fence_code(const CodeRunTable& table, std::uintptr_t base) noexcept;

// Whether `table` is a code-run table: the magic, the capacity, a count within it.
[[nodiscard]] bool valid_table(const CodeRunTable& table) noexcept;

struct AddressRange {
  std::uintptr_t lo = 0;
  std::uintptr_t hi = 0; // one past the end
};

// The parts of `range` outside the steady runs of `table` (offset by `base`), ascending, written
// to `out`; returns how many were written. The runs are taken as ascending (medic-code-runs
// writes them so): a run that ends before the previous one's end is skipped. Parts that do not
// fit in `out` are left out, as if steady (that only keeps pages mapped). An empty or malformed
// table: the whole range.
std::size_t outside_steady_runs(const CodeRunTable& table, std::uintptr_t base, AddressRange range,
                                std::span<AddressRange> out) noexcept;

// The executable's load address (its ELF virtual address 0 in this process).
[[nodiscard]] std::uintptr_t executable_base() noexcept;

// fence_code() on this executable's own table, once per process; later calls return 0.
std::size_t fence_own_code() noexcept;

} // namespace medic::agent::loop

// Defined in code_run_table.cpp, alone, so that no compiler sees its (zero) contents where it is
// read.
extern "C" const medic::agent::loop::CodeRunTable medic_code_runs;
