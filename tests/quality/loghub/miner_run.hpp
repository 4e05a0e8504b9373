// SPDX-License-Identifier: Apache-2.0
// Runs the agent's template miner (shared/logs/template_miner.hpp, default options, exactly as
// the agent creates it) over a system's messages, one line at a time, and measures its speed.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "shared/error.hpp"

namespace medic::quality::loghub {

// How a line's group is named for scoring: by the id of the template that holds it at the end
// (templates merged later count as one, like logparser's final output), by the id the miner
// returned for the line at the time (what the agent saw then), or by the final template text
// (logparser's EventId is the MD5 of it).
enum class GroupBy { template_id, emitted_id, template_text };

struct MinerRun {
  std::vector<std::string> labels;    // one per message, in order
  std::vector<std::string> templates; // the final template text of each message's group
  std::size_t template_count = 0;     // templates the miner holds at the end
};

// A fresh miner with the shipped defaults, fed every message in order.
[[nodiscard]] Result<MinerRun> run_miner(const std::vector<std::string>& contents,
                                         GroupBy group_by);

struct Throughput {
  std::size_t lines = 0;      // lines mined per pass over all samples
  double cold_per_second = 0; // a fresh miner per sample and pass (templates created)
  double warm_per_second = 0; // a second pass with the same miner (templates known)
};

// Lines per second of this thread's CPU time (one core), over `passes` passes through every
// sample; the miner's work only (messages are already cut out of the lines).
[[nodiscard]] Result<Throughput> measure_miner(
    const std::vector<const std::vector<std::string>*>& samples, std::size_t passes);

} // namespace medic::quality::loghub
