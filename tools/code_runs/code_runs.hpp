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

using agent::loop::CodeRun;
using agent::loop::CodeRunTable;

// The function names of an order file (LLD's --symbol-ordering-file): one per line, blank lines
// and lines starting with '#' skipped.
std::unordered_set<std::string> order_file_names(std::string_view text);

// Page runs (ascending, not touching) covering every defined function symbol of the ELF64
// little-endian executable `elf` whose name is in `names`. At most `max_runs`: when there would be
// more, the runs with the smallest gaps between them are joined.
Result<std::vector<CodeRun>> listed_code_runs(std::string_view elf,
                                              const std::unordered_set<std::string>& names,
                                              std::size_t max_runs = CodeRunTable::k_capacity);

// Writes `runs` into the `medic_code_runs` table of `elf` (the file's bytes, changed in place).
Result<void> write_code_runs(std::string& elf, std::span<const CodeRun> runs);

// The `medic_code_runs` table of `elf`, as the file holds it.
Result<CodeRunTable> read_code_runs(std::string_view elf);

} // namespace medic::tools
