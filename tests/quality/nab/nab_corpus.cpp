// SPDX-License-Identifier: Apache-2.0
#include "tests/quality/nab/nab_corpus.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace medic::quality::nab {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t k_us_per_second = 1'000'000;
constexpr std::int64_t k_seconds_per_day = 86'400;

Error io_error(const fs::path& path, std::string what) {
  return Error(ErrorCode::io, path.string() + ": " + std::move(what));
}

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(io_error(path, "cannot open"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<nlohmann::json> read_json(const fs::path& path) {
  auto text = read_text(path);
  if (!text) {
    return fail(std::move(text).error());
  }
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    return fail(io_error(path, std::string("invalid JSON: ") + e.what()));
  }
}

// Lines without their '\r', the header first; blank lines dropped.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      out.push_back(line);
    }
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return out;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const std::size_t comma = line.find(',', start);
    out.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) {
      return out;
    }
    start = comma + 1;
  }
}

bool parse_number(std::string_view text, double& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

template <class Int>
bool parse_int(std::string_view text, Int& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

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

Result<DataFile> load_data_file(const fs::path& path, std::string name) {
  auto text = read_text(path);
  if (!text) {
    return fail(std::move(text).error());
  }
  const auto lines = lines_of(*text);
  if (lines.empty() || lines[0] != "timestamp,value") {
    return fail(io_error(path, "line 1: expected the header 'timestamp,value'"));
  }
  DataFile file;
  file.labels.name = std::move(name);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto fields = fields_of(lines[i]);
    double value = 0;
    auto ts = fields.size() == 2 ? parse_timestamp(fields[0]) : fail(ErrorCode::io, "2 fields");
    if (!ts || !parse_number(fields[1], value)) {
      return fail(io_error(path, "line " + std::to_string(i + 1) + ": expected timestamp,value"));
    }
    file.timestamps_us.push_back(*ts);
    file.values.push_back(value);
  }
  file.labels.rows = file.values.size();
  return file;
}

Result<void> attach_windows(DataFile& file, const nlohmann::json& pairs, const fs::path& where) {
  const std::string context = where.string() + ": " + file.labels.name;
  if (!pairs.is_array()) {
    return fail(ErrorCode::io, context + ": windows must be a list");
  }
  const auto row_of = [&](const nlohmann::json& text) -> Result<std::size_t> {
    auto ts = text.is_string() ? parse_timestamp(text.get<std::string>())
                               : fail(ErrorCode::io, "not a string");
    const auto& times = file.timestamps_us;
    const auto at = ts ? std::lower_bound(times.begin(), times.end(), *ts) : times.end();
    if (at == times.end() || *at != *ts) {
      return fail(ErrorCode::io, context + ": window end " + text.dump() + " is not a row");
    }
    return static_cast<std::size_t>(at - times.begin());
  };
  for (const auto& pair : pairs) {
    if (!pair.is_array() || pair.size() != 2) {
      return fail(ErrorCode::io, context + ": a window must be [start, end]");
    }
    auto left = row_of(pair[0]);
    auto right = left ? row_of(pair[1]) : left;
    if (!right) {
      return fail(std::move(right).error());
    }
    const auto& windows = file.labels.windows;
    if (*right < *left || (!windows.empty() && *left <= windows.back().right)) {
      return fail(ErrorCode::io, context + ": windows overlap or are out of order");
    }
    file.labels.windows.push_back({*left, *right});
  }
  return {};
}

} // namespace

Result<std::int64_t> parse_timestamp(std::string_view text) {
  // YYYY-MM-DD HH:MM:SS[.ffffff]
  std::int64_t year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::int64_t micro = 0;
  const bool shape = text.size() >= 19 && text[4] == '-' && text[7] == '-' &&
                     (text[10] == ' ' || text[10] == 'T') && text[13] == ':' && text[16] == ':';
  bool ok = shape && parse_int(text.substr(0, 4), year) && parse_int(text.substr(5, 2), month) &&
            parse_int(text.substr(8, 2), day) && parse_int(text.substr(11, 2), hour) &&
            parse_int(text.substr(14, 2), minute) && parse_int(text.substr(17, 2), second);
  if (ok && text.size() > 19) {
    const std::string_view fraction = text.substr(20);
    ok = text[19] == '.' && !fraction.empty() && fraction.size() <= 6 && parse_int(fraction, micro);
    for (std::size_t digits = fraction.size(); ok && digits < 6; ++digits) {
      micro *= 10;
    }
  }
  if (!ok || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return fail(ErrorCode::invalid_argument, "bad timestamp '" + std::string(text) + "'");
  }
  const std::int64_t seconds =
      days_from_civil(year, month, day) * k_seconds_per_day + hour * 3600 + minute * 60 + second;
  return seconds * k_us_per_second + micro;
}

std::vector<LabelledFile> Corpus::labelled() const {
  std::vector<LabelledFile> out;
  for (const DataFile& file : files) {
    out.push_back(file.labels);
  }
  return out;
}

std::size_t Corpus::window_count() const noexcept {
  std::size_t count = 0;
  for (const DataFile& file : files) {
    count += file.labels.windows.size();
  }
  return count;
}

std::size_t Corpus::row_count() const noexcept {
  std::size_t count = 0;
  for (const DataFile& file : files) {
    count += file.labels.rows;
  }
  return count;
}

Result<Corpus> load_corpus(const fs::path& root) {
  const fs::path windows_path = root / "labels" / "combined_windows.json";
  auto windows = read_json(windows_path);
  if (!windows) {
    return fail(std::move(windows).error());
  }
  Corpus corpus{root, {}};
  std::error_code error;
  for (fs::recursive_directory_iterator it(root / "data", error), end; !error && it != end;
       it.increment(error)) {
    if (!it->is_regular_file() || it->path().extension() != ".csv") {
      continue;
    }
    std::string name = it->path().lexically_relative(root / "data").generic_string();
    auto file = load_data_file(it->path(), name);
    if (!file) {
      return fail(std::move(file).error());
    }
    if (!windows->contains(name)) {
      return fail(io_error(windows_path, "no entry for " + name));
    }
    if (auto ok = attach_windows(*file, (*windows)[name], windows_path); !ok) {
      return fail(std::move(ok).error());
    }
    corpus.files.push_back(std::move(*file));
  }
  if (error || corpus.files.empty()) {
    return fail(io_error(root / "data", error ? error.message() : "no CSV files"));
  }
  std::sort(corpus.files.begin(), corpus.files.end(),
            [](const auto& a, const auto& b) { return a.labels.name < b.labels.name; });
  return corpus;
}

Result<std::vector<Profile>> load_profiles(const fs::path& root) {
  const fs::path path = root / "config" / "profiles.json";
  if (!fs::exists(path)) {
    return published_profiles();
  }
  auto json = read_json(path);
  if (!json) {
    return fail(std::move(json).error());
  }
  std::vector<Profile> out;
  try {
    for (Profile profile : published_profiles()) {
      const auto& costs = json->at(profile.name).at("CostMatrix");
      profile.tp = costs.at("tpWeight").get<double>();
      profile.fp = costs.at("fpWeight").get<double>();
      profile.fn = costs.at("fnWeight").get<double>();
      out.push_back(profile);
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(io_error(path, e.what()));
  }
  return out;
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
