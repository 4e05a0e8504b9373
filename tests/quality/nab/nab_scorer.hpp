// SPDX-License-Identifier: Apache-2.0
// The Numenta Anomaly Benchmark's scoring (../shared/data/nab/SCORING.md, the section numbers
// below are its own), as pure functions of a file's windows and a detector's scores. No I/O:
// nab_corpus.hpp reads the files.
//
// Every function is deterministic and uses double precision throughout; the published scores
// are reproduced to about 1e-12 (tests/quality/nab/CMakeLists.txt, `nab: scorer reproduces ...`).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace medic::quality::nab {

// §2: the weights of one cost profile.
struct Profile {
  std::string name;
  double tp = 1;
  double fp = 0.11;
  double fn = 1;
};

// The three published profiles, in NAB's order: standard, reward_low_FP_rate, reward_low_FN_rate.
[[nodiscard]] std::vector<Profile> published_profiles();

// An anomaly window as row indexes, both inclusive (left <= right).
struct Window {
  std::size_t left = 0;
  std::size_t right = 0;
};

// What the scorer knows of one data file: its length and its windows in time order, not
// overlapping (§3 guarantees both for NAB's own labels; corpus loading checks them).
struct LabelledFile {
  std::string name; // "realKnownCause/nyc_taxi.csv"
  std::size_t rows = 0;
  std::vector<Window> windows;
};

// §2: rows scored from this index on: min(floor(0.15 n), 750).
[[nodiscard]] std::size_t probationary_rows(std::size_t rows) noexcept;

// §4: A(y) = 2 / (1 + exp(5y)) - 1, clamped to -1 for y > 3.
[[nodiscard]] double scaled_sigmoid(double y) noexcept;

// §5: the weight of every row of a file under a profile, and the window each row lies in
// (k_outside when none). Probationary rows get their weight too; callers skip them.
inline constexpr std::size_t k_outside = static_cast<std::size_t>(-1);
struct RowWeights {
  std::vector<double> weight;
  std::vector<std::size_t> window;
};
[[nodiscard]] RowWeights row_weights(const LabelledFile& file, const Profile& profile);

// §6: one file's raw score at a threshold, with NAB's row counts over the scored rows.
struct FileScore {
  double score = 0;
  std::size_t tp = 0; // detections inside a window
  std::size_t tn = 0;
  std::size_t fp = 0; // detections outside every window
  std::size_t fn = 0; // rows inside a window without a detection
};
// `scores` has one anomaly score per row (scores.size() == file.rows).
[[nodiscard]] FileScore score_file(const LabelledFile& file, std::span<const double> scores,
                                   const Profile& profile, double threshold);

// What each row adds to the file's score at a threshold, as NAB's per-row `S(t)_<profile>`
// columns put it: a false positive on its own row, a window's contribution (its earliest
// detection's weight, or -fn when missed) on the window's first row, 0 elsewhere.
[[nodiscard]] std::vector<double> row_contributions(const LabelledFile& file,
                                                    std::span<const double> scores,
                                                    const Profile& profile, double threshold);

// Windows that have at least one scored row: the ones a null or perfect detector is paid for.
[[nodiscard]] std::size_t scored_windows(const LabelledFile& file) noexcept;

// §7, current NAB: the threshold giving the largest corpus raw score, sweeping down through
// every distinct score value from 1.1; ties go to the highest threshold.
struct Optimum {
  double threshold = 1.1;
  double score = 0; // corpus raw score at that threshold
};
// scores[f] holds file f's per-row scores.
[[nodiscard]] Optimum optimise_threshold(std::span<const LabelledFile> files,
                                         std::span<const std::vector<double>> scores,
                                         const Profile& profile);

// The corpus raw score at one threshold: the sum of score_file over the files.
[[nodiscard]] double corpus_score(std::span<const LabelledFile> files,
                                  std::span<const std::vector<double>> scores,
                                  const Profile& profile, double threshold);

// §8: the raw scores of the null detector (constant 0.5 at NAB's stored threshold for it, 0.6:
// it detects nothing, -fn per window) and of the perfect detector (1 on the first scored row of
// each window, 0 elsewhere, at threshold 1: +tp per window), both computed by scoring those
// detectors, and the scale they define. (On a tiny corpus, sweeping the null detector could
// find that detecting everything beats -fn per window; NAB's normalisation does not do that.)
struct Normaliser {
  double null_score = 0;
  double perfect_score = 0;
  // 100 (raw - null) / (perfect - null): 0 for the null detector, 100 for the perfect one.
  [[nodiscard]] double normalise(double raw) const noexcept;
};
[[nodiscard]] Normaliser normaliser(std::span<const LabelledFile> files, const Profile& profile);

} // namespace medic::quality::nab
