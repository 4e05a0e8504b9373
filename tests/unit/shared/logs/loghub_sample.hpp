// SPDX-License-Identifier: Apache-2.0
// Reads the Loghub 2k samples (raw lines, header formats, ground-truth event ids) and computes
// grouping accuracy as BENCHMARK.md §2 defines it. Header-only so that the unit tests and
// tests/bench/log_match_bench.cpp share it. The data lives outside the repository (licence):
// MEDIC_LOGHUB_DIR, else /work/shared/data/loghub; callers skip when it is missing.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <re2/re2.h>

namespace medic::test::loghub {

struct Sample {
  std::string system;
  std::vector<std::string> lines;           // raw lines, CR stripped
  std::vector<std::string> contents;        // message part after the header format
  std::vector<std::string> truth;           // EventId per line (original ground truth)
  std::vector<std::string> truth_corrected; // EventId per line (Khan et al. corrections)
};

inline std::filesystem::path data_dir() {
  const char* env = std::getenv("MEDIC_LOGHUB_DIR");
  return env != nullptr && *env != '\0' ? std::filesystem::path(env)
                                        : std::filesystem::path("/work/shared/data/loghub");
}

inline std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

// RFC 4180 rows; fields may hold commas, doubled quotes and line breaks.
inline std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
      }
      rows.back().push_back(std::move(field));
      field.clear();
      rows.emplace_back();
    } else {
      field.push_back(c);
    }
  }
  if (!field.empty() || !rows.back().empty()) {
    rows.back().push_back(std::move(field));
  } else {
    rows.pop_back();
  }
  return rows;
}

inline std::vector<std::string> event_ids(const std::filesystem::path& csv) {
  const auto rows = parse_csv(read_all(csv));
  std::vector<std::string> ids;
  if (rows.empty()) {
    return ids;
  }
  std::size_t column = 0;
  while (column < rows[0].size() && rows[0][column] != "EventId") {
    ++column;
  }
  for (std::size_t r = 1; r < rows.size(); ++r) {
    ids.push_back(column < rows[r].size() ? rows[r][column] : std::string());
  }
  return ids;
}

// Loghub format (<Field> groups, the rest regex syntax) -> anchored RE2 pattern.
inline std::string header_regex(std::string_view format) {
  std::string out = "^";
  for (std::size_t i = 0; i < format.size();) {
    if (format[i] == '<') {
      const std::size_t close = format.find('>', i);
      out += "(?P<" + std::string(format.substr(i + 1, close - i - 1)) + ">.*?)";
      i = close + 1;
    } else if (format[i] == ' ') {
      while (i < format.size() && format[i] == ' ') {
        ++i;
      }
      out += "\\s+";
    } else {
      out.push_back(format[i++]);
    }
  }
  return out + "$";
}

inline std::map<std::string, std::string> formats(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  for (const std::string& line : split_lines(read_all(dir / "formats.tsv"))) {
    const std::size_t tab = line.find('\t');
    if (!line.empty() && line[0] != '#' && tab != std::string::npos) {
      out.emplace(line.substr(0, tab), line.substr(tab + 1));
    }
  }
  return out;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// nullopt when the sample's files are missing.
inline std::optional<Sample> load(const std::filesystem::path& dir, const std::string& system,
                                  const std::string& format) {
  const auto base = dir / system / (system + "_2k.log");
  if (!std::filesystem::exists(base)) {
    return std::nullopt;
  }
  Sample sample;
  sample.system = system;
  sample.lines = split_lines(read_all(base));
  sample.truth = event_ids(base.string() + "_structured.csv");
  sample.truth_corrected = event_ids(base.string() + "_structured_corrected.csv");
  const RE2 header(header_regex(format));
  const int groups = header.NumberOfCapturingGroups();
  const int content = header.NamedCapturingGroups().at("Content");
  std::vector<re2::StringPiece> match(static_cast<std::size_t>(groups) + 1);
  for (const std::string& line : sample.lines) {
    const std::string_view text = trim(line);
    const re2::StringPiece piece(text.data(), text.size());
    if (header.Match(piece, 0, piece.size(), RE2::ANCHOR_BOTH, match.data(), groups + 1)) {
      const auto& c = match[static_cast<std::size_t>(content)];
      sample.contents.emplace_back(c.data(), c.size());
    } else {
      sample.contents.emplace_back(text);
    }
  }
  return sample;
}

// BENCHMARK.md §2: a line counts when its predicted group is exactly its true group.
inline double grouping_accuracy(const std::vector<std::string>& truth,
                                const std::vector<std::uint32_t>& predicted) {
  std::unordered_map<std::string, std::size_t> truth_size;
  for (const auto& t : truth) {
    ++truth_size[t];
  }
  std::unordered_map<std::uint32_t, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < predicted.size() && i < truth.size(); ++i) {
    groups[predicted[i]].push_back(i);
  }
  std::size_t correct = 0;
  for (const auto& [id, members] : groups) {
    const std::string& event = truth[members.front()];
    bool pure = truth_size[event] == members.size();
    for (const std::size_t m : members) {
      pure = pure && truth[m] == event;
    }
    correct += pure ? members.size() : 0;
  }
  return truth.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(truth.size());
}

} // namespace medic::test::loghub
