// SPDX-License-Identifier: Apache-2.0
// Grouping accuracy (GA) and pairwise F1 of a log parser's output against ground truth, as
// BENCHMARK.md §2 defines them (and logparser's evaluator computes them):
// - line i is correct iff the set of lines the parser grouped with it equals the set of lines
//   that share its ground-truth EventId; GA = correct lines / lines scored;
// - F1: pairs of lines that share a true event (real), share a parser group (parsed) and both
//   (accurate); precision = accurate / parsed, recall = accurate / real.
// Lines whose ground-truth label is empty are left out of both. Labels are compared as exact
// strings: ground truth by EventId (never by template text, which repeats in Linux-corrected),
// parser output by whatever the parser calls a group (logparser: MD5 of the final template).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "shared/error.hpp"

namespace medic::quality::loghub {

struct GroupingScore {
  std::size_t lines = 0;         // lines scored (non-empty ground truth)
  std::size_t correct_lines = 0; // lines whose parser group is exactly their true group
  std::size_t true_groups = 0;   // distinct ground-truth events
  std::size_t parsed_groups = 0; // distinct parser groups over the scored lines
  double accuracy = 0;           // correct_lines / lines (0 when no line is scored)
  double precision = 0;          // pairwise; 0 when no pair was parsed
  double recall = 0;             // pairwise; 0 when no real pair exists
  double f1 = 0;
};

// Fails when the two label lists differ in length.
[[nodiscard]] Result<GroupingScore> score_grouping(std::span<const std::string> truth,
                                                   std::span<const std::string> parsed);

// Numeric parser labels (a template id per line) scored the same way.
[[nodiscard]] Result<GroupingScore> score_grouping(std::span<const std::string> truth,
                                                   std::span<const std::uint64_t> parsed);

} // namespace medic::quality::loghub
