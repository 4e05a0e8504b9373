// SPDX-License-Identifier: Apache-2.0
// Reading a NAB-format corpus folder (../shared/data/nab/SCORING.md §1): data/<category>/*.csv,
// labels/combined_windows.json, config/{profiles,thresholds}.json and results/<detector>/ with
// per-row outputs (<category>/<detector>_<name>.csv) or per-file scores
// (<detector>_<profile>_scores.csv). Any folder with that layout can be scored.
//
// Errors name the file and, for CSV, the line. Single-threaded, start-up only (allocates freely).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "shared/error.hpp"
#include "tests/quality/nab/nab_scorer.hpp"

namespace medic::quality::nab {

// "2014-07-01 00:00:00" or "2014-10-30 15:30:00.000000" as microseconds since 1970 (the
// timestamps carry no zone: read as UTC, only equality and differences matter).
[[nodiscard]] Result<std::int64_t> parse_timestamp(std::string_view text);
// The inverse, to whole seconds: "2014-07-01 00:00:00".
[[nodiscard]] std::string format_timestamp(std::int64_t us);

struct DataFile {
  LabelledFile labels; // labels.name is the path under data/, with '/' separators
  std::vector<std::int64_t> timestamps_us;
  std::vector<double> values;
};

struct Corpus {
  std::filesystem::path root;
  std::vector<DataFile> files; // sorted by name

  [[nodiscard]] std::vector<LabelledFile> labelled() const;
  [[nodiscard]] std::size_t window_count() const noexcept;
  [[nodiscard]] std::size_t row_count() const noexcept;
};

// Every data/**/*.csv with its windows. Fails when a file has no entry in the windows JSON, a
// window end is not a timestamp of its file, or windows overlap or are out of order.
[[nodiscard]] Result<Corpus> load_corpus(const std::filesystem::path& root);

// config/profiles.json when present, else published_profiles().
[[nodiscard]] Result<std::vector<Profile>> load_profiles(const std::filesystem::path& root);

// config/thresholds.json: detector -> profile -> threshold.
using Thresholds = std::map<std::string, std::map<std::string, double>>;
[[nodiscard]] Result<Thresholds> load_thresholds(const std::filesystem::path& root);

// A per-row result file's `anomaly_score` column, checked row by row against the data file's
// timestamps. `columns` (optional) receives the other numeric columns by header name.
using Columns = std::map<std::string, std::vector<double>>;
[[nodiscard]] Result<std::vector<double>> load_result_scores(const std::filesystem::path& path,
                                                             const DataFile& file,
                                                             Columns* columns = nullptr);

// The per-row result file of `detector` for a data file, in NAB's layout.
[[nodiscard]] std::filesystem::path result_path(const std::filesystem::path& results_dir,
                                                const std::string& detector,
                                                const std::string& file_name);

// One `<detector>_<profile>_scores.csv`.
struct PublishedRow {
  std::string file;
  double threshold = 0;
  double score = 0;
  std::size_t tp = 0, tn = 0, fp = 0, fn = 0, total = 0;
};
struct PublishedScores {
  std::vector<PublishedRow> files;
  double total = 0; // the `Totals` row: the raw score over NAB's whole corpus
  bool has_total = false;
};
[[nodiscard]] Result<PublishedScores> load_published_scores(const std::filesystem::path& path);

// results/final_results.json: detector -> profile -> normalised score.
[[nodiscard]] Result<Thresholds> load_final_results(const std::filesystem::path& root);

// Writes a per-row result file (timestamp,value,anomaly_score,label) in NAB's layout.
[[nodiscard]] Result<void> write_result_file(const std::filesystem::path& path,
                                             const DataFile& file,
                                             const std::vector<double>& scores);

} // namespace medic::quality::nab
