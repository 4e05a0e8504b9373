// SPDX-License-Identifier: Apache-2.0
// The result side of nab_corpus.hpp: detector outputs, published scores, stored thresholds.
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/quality/nab/nab_corpus.hpp"
#include "tests/quality/nab/nab_text.hpp"

namespace medic::quality::nab {

namespace fs = std::filesystem;
using text::fields_of;
using text::io_error;
using text::k_seconds_per_day;
using text::k_us_per_second;
using text::lines_of;
using text::parse_int;
using text::parse_number;
using text::read_json;
using text::read_text;

std::string format_timestamp(std::int64_t us) {
  const std::int64_t seconds = us / k_us_per_second;
  std::int64_t z = seconds / k_seconds_per_day + 719468;
  const std::int64_t in_day = seconds % k_seconds_per_day;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, m, d, in_day / 3600,
                     in_day / 60 % 60, in_day % 60);
}

namespace {

// detector -> profile -> number, from {"detector": {"profile": <number or {key: number}>}}.
Result<Thresholds> load_table(const fs::path& path, const char* key) {
  auto json = read_json(path);
  if (!json) {
    return fail(std::move(json).error());
  }
  Thresholds out;
  try {
    for (const auto& [detector, profiles] : json->items()) {
      for (const auto& [profile, value] : profiles.items()) {
        out[detector][profile] = key == nullptr ? value.get<double>() : value.at(key).get<double>();
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(io_error(path, e.what()));
  }
  return out;
}

} // namespace

Result<Thresholds> load_thresholds(const fs::path& root) {
  return load_table(root / "config" / "thresholds.json", "threshold");
}

Result<Thresholds> load_final_results(const fs::path& root) {
  return load_table(root / "results" / "final_results.json", nullptr);
}

fs::path result_path(const fs::path& results_dir, const std::string& detector,
                     const std::string& file_name) {
  const fs::path name(file_name);
  return results_dir / detector / name.parent_path() / (detector + "_" + name.filename().string());
}

Result<std::vector<double>> load_result_scores(const fs::path& path, const DataFile& file,
                                               Columns* columns) {
  auto text = read_text(path);
  if (!text) {
    return fail(std::move(text).error());
  }
  const auto lines = lines_of(*text);
  const auto header = lines.empty() ? std::vector<std::string_view>{} : fields_of(lines[0]);
  const auto score_at = std::find(header.begin(), header.end(), "anomaly_score");
  if (header.empty() || header[0] != "timestamp" || score_at == header.end()) {
    return fail(io_error(path, "line 1: expected timestamp,...,anomaly_score,..."));
  }
  if (lines.size() != file.labels.rows + 1) {
    return fail(io_error(path, std::to_string(lines.size() - 1) + " rows, the data file has " +
                                   std::to_string(file.labels.rows)));
  }
  const auto score_column = static_cast<std::size_t>(score_at - header.begin());
  std::vector<double> scores;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto fields = fields_of(lines[i]);
    auto ts = fields.size() == header.size() ? parse_timestamp(fields[0])
                                             : fail(ErrorCode::io, "field count");
    double score = 0;
    if (!ts || *ts != file.timestamps_us[i - 1] || !parse_number(fields[score_column], score)) {
      return fail(io_error(path, "line " + std::to_string(i + 1) +
                                     ": timestamp or anomaly_score does not match the data"));
    }
    scores.push_back(score);
    for (std::size_t c = 1; columns != nullptr && c < header.size(); ++c) {
      double number = 0;
      (*columns)[std::string(header[c])].push_back(parse_number(fields[c], number) ? number : 0);
    }
  }
  return scores;
}

Result<PublishedScores> load_published_scores(const fs::path& path) {
  auto text = read_text(path);
  if (!text) {
    return fail(std::move(text).error());
  }
  const auto lines = lines_of(*text);
  if (lines.empty() ||
      lines[0] != "Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count") {
    return fail(io_error(path, "line 1: not a NAB scores file"));
  }
  PublishedScores out;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto f = fields_of(lines[i]);
    PublishedRow row;
    const bool totals = !f.empty() && f[0] == "Totals";
    bool ok = f.size() == 10 && parse_number(f[4], row.score);
    if (ok && !totals) {
      row.file = std::string(f[2]);
      ok = parse_number(f[3], row.threshold) && parse_int(f[5], row.tp) &&
           parse_int(f[6], row.tn) && parse_int(f[7], row.fp) && parse_int(f[8], row.fn) &&
           parse_int(f[9], row.total);
    }
    if (!ok) {
      return fail(io_error(path, "line " + std::to_string(i + 1) + ": bad row"));
    }
    if (totals) {
      out.total = row.score;
      out.has_total = true;
    } else {
      out.files.push_back(std::move(row));
    }
  }
  return out;
}

Result<void> write_result_file(const fs::path& path, const DataFile& file,
                               const std::vector<double>& scores) {
  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (error || !out) {
    return fail(io_error(path, "cannot write"));
  }
  out << "timestamp,value,anomaly_score,label\n";
  const RowWeights inside = row_weights(file.labels, Profile{});
  for (std::size_t i = 0; i < file.labels.rows; ++i) {
    out << fmt::format("{},{},{},{}\n", format_timestamp(file.timestamps_us[i]), file.values[i],
                       scores[i], inside.window[i] == k_outside ? 0 : 1);
  }
  out.close();
  if (!out) {
    return fail(io_error(path, "write failed"));
  }
  return {};
}

} // namespace medic::quality::nab
