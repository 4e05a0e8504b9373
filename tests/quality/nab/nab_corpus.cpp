// SPDX-License-Identifier: Apache-2.0
#include "tests/quality/nab/nab_corpus.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tests/quality/nab/nab_text.hpp"

namespace medic::quality::nab {

namespace fs = std::filesystem;

namespace {

using text::fields_of;
using text::io_error;
using text::k_seconds_per_day;
using text::k_us_per_second;
using text::lines_of;
using text::parse_int;
using text::parse_number;
using text::read_json;
using text::read_text;

// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
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
  const std::int64_t seconds = days_from_civil(year, month, day) * k_seconds_per_day +
                               std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second;
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

} // namespace medic::quality::nab
