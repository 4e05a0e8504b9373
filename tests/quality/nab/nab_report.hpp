// SPDX-License-Identifier: Apache-2.0
// Scoring whole detectors on a corpus: from per-row outputs (optimised by the sweep, or at given
// thresholds), from published per-file scores, and the checks that prove the scorer reproduces
// the published numbers. Used by medic-nab-score and the quality tests. Single-threaded.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tests/quality/nab/nab_corpus.hpp"

namespace medic::quality::nab {

// One detector under one profile.
struct ProfileResult {
  std::string profile;
  double threshold = 0;
  double raw = 0;               // corpus raw score
  double normalised = 0;        // NAB score, 0 null .. 100 perfect, on this corpus' windows
  std::vector<FileScore> files; // per corpus file (empty for published per-file scores)
};

struct DetectorResult {
  std::string detector;
  std::string method;                  // "sweep", "stored thresholds", "published per-file scores"
  std::vector<ProfileResult> profiles; // in the order of the profiles given
};

// Per-row scores of every corpus file, in corpus order.
using CorpusScores = std::vector<std::vector<double>>;

// Scores per-row outputs: each profile's threshold from the sweep, or from `stored` when given.
[[nodiscard]] DetectorResult score_rows(const Corpus& corpus, const std::string& detector,
                                        const CorpusScores& scores,
                                        const std::vector<Profile>& profiles,
                                        const Thresholds* stored = nullptr);

// Reads results/<detector>/ per-row outputs for every corpus file. Fails when one is missing.
[[nodiscard]] Result<CorpusScores> load_detector_rows(const Corpus& corpus,
                                                      const std::filesystem::path& results_dir,
                                                      const std::string& detector);

// Sums the published per-file raw scores of the corpus files (at the detector's own published
// thresholds) and normalises them on the corpus. nullopt with a reason when a profile's file or
// a corpus file's row is missing.
[[nodiscard]] Result<DetectorResult> score_published(const Corpus& corpus,
                                                     const std::filesystem::path& results_dir,
                                                     const std::string& detector,
                                                     const std::vector<Profile>& profiles);

// Detectors in a results folder: its subfolders, sorted.
[[nodiscard]] std::vector<std::string> detectors_in(const std::filesystem::path& results_dir);

// The largest absolute differences found by verify_rows / verify_totals.
struct Mismatch {
  double worst = 0;
  std::vector<std::string> problems; // human-readable, one per difference beyond tolerance
};

// At the stored thresholds, compares the rescored per-row output of `detector` with its
// published `<detector>_<profile>_scores.csv` (per-file score and TP/TN/FP/FN/Total counts) and,
// where the output has `S(t)_<profile>` columns, row by row.
[[nodiscard]] Result<Mismatch> verify_rows(const Corpus& corpus,
                                           const std::filesystem::path& results_dir,
                                           const std::string& detector,
                                           const std::vector<Profile>& profiles, double tolerance);

// Normalises each published `Totals` row (NAB's whole corpus) with the null detector's own
// published Totals as S_null and S_perfect = tp / fn * -S_null, and compares the result with
// results/final_results.json. Detectors in `skip` are left out: NAB's `random` scores files
// come from another run than its final_results.json entry (SCORING.md §7 calls its stored raw
// score stale; its Totals -25.89 normalise to 38.84, not 16.83, and it has 23 of 41 files).
[[nodiscard]] Result<Mismatch> verify_totals(const std::filesystem::path& results_dir,
                                             const std::vector<Profile>& profiles, double tolerance,
                                             const std::vector<std::string>& skip);

// A Markdown table: detector, method, then the normalised score (and threshold) per profile,
// sorted by the first profile's score, best first.
[[nodiscard]] std::string markdown_table(std::vector<DetectorResult> results);

// A Markdown table of one detector's per-file raw scores per profile.
[[nodiscard]] std::string markdown_per_file(const Corpus& corpus, const DetectorResult& result);

} // namespace medic::quality::nab
