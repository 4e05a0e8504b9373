// SPDX-License-Identifier: Apache-2.0
// Runs the agent's streaming anomaly detector (shared/detect/anomaly_detector.hpp, the shipped
// AnomalySpec defaults) over every file of a NAB corpus: one fresh detector per file, fed one
// value at a time in row order with the row's timestamp, its score() after each update taken as
// that row's anomaly score. Nothing looks ahead and nothing is set per file.
#pragma once

#include <cstddef>

#include "tests/quality/nab/nab_report.hpp"

namespace medic::quality::nab {

// The detector's name in result folders and tables.
inline constexpr const char* k_detector_name = "medic";

[[nodiscard]] CorpusScores run_anomaly_detector(const Corpus& corpus);

struct RunCost {
  double ns_per_sample = 0;    // thread CPU time per update, best of the rounds
  std::size_t state_bytes = 0; // sizeof the detector: it allocates nothing
};
// Times `rounds` passes over the corpus (scores discarded).
[[nodiscard]] RunCost measure_cost(const Corpus& corpus, int rounds);

} // namespace medic::quality::nab
