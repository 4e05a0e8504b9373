// SPDX-License-Identifier: Apache-2.0
// Drain as logparser runs it on the Loghub benchmark (BENCHMARK.md §§3-4), re-implemented from
// that description and checked against the published per-system accuracies. It exists to prove
// the scorer: scoring its output must give the published Drain GA to 4 decimals. It is not the
// agent's miner (shared/logs/template_miner.hpp) and is not meant to be fast.
//
// Two details of logparser's code that the prose in §3 smooths over, kept here because they
// change cluster counts (not GA, which keys groups by template text): a message with fewer
// tokens than the tree has layers (depth - 2) is never added to the tree, so every such message
// opens its own cluster; and groups are labelled by their final template text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

namespace medic::quality::loghub {

struct DrainSettings {
  std::vector<std::string> regexes; // applied in order, each match replaced by <*>
  double similarity = 0.5;          // st
  int depth = 4;                    // tree depth as logparser counts it (>= 3)
  std::size_t max_children = 100;
};

// The published benchmark settings for one of the 16 Loghub systems, or nullopt.
[[nodiscard]] std::optional<DrainSettings> published_drain_settings(std::string_view system);

// Runs Drain over the messages (header already cut off) and returns each line's final template
// text, the label logparser hashes into its EventId. Fails when a regex does not compile.
[[nodiscard]] Result<std::vector<std::string>> run_reference_drain(
    const DrainSettings& settings, const std::vector<std::string>& contents);

} // namespace medic::quality::loghub
