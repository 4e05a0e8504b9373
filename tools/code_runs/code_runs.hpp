// SPDX-License-Identifier: Apache-2.0
// Build-time side of agent/loop/code_fence.hpp: finds the pages of the functions an order file
// lists in a linked ELF executable, and writes them as runs into its `medic_code_runs` table.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "agent/loop/code_fence.hpp"
#include "shared/error.hpp"

namespace medic::tools {

using agent::loop::CodeKind;
using agent::loop::CodeRun;
using agent::loop::CodeRunTable;

// The function names of an order file (LLD's --symbol-ordering-file: one per line, blank lines
// and lines starting with '#' skipped), by group: the steady state's first, then after the line
// "# medic: start-up" those run only at start-up. Names after "# medic: other CPUs" (Hyperscan's
// runtime for the CPU families other than the one profiled: the steady state's code on those)
// are steady too: which family runs is picked at start-up from the CPU the agent finds, and the
// families it does not pick are never touched, fenced or not. Without markers every name is
// steady.
struct OrderFile {
  std::unordered_set<std::string> steady;
  std::unordered_set<std::string> start_up;
};
OrderFile read_order_file(std::string_view text);

// Page runs, ascending, covering every defined function symbol of the ELF64 little-endian
// executable `elf` named in `order`: a page with any steady-state code is steady, the other pages
// of start-up functions start-up. Runs of one kind do not touch. More than `max_runs` is an error
// (the agent's order file gives about 70).
Result<std::vector<CodeRun>> listed_code_runs(std::string_view elf, const OrderFile& order,
                                              std::size_t max_runs = CodeRunTable::k_capacity);

// Writes `runs` into the `medic_code_runs` table of `elf` (the file's bytes, changed in place).
Result<void> write_code_runs(std::string& elf, std::span<const CodeRun> runs);

// The `medic_code_runs` table of `elf`, as the file holds it.
Result<CodeRunTable> read_code_runs(std::string_view elf);

} // namespace medic::tools
