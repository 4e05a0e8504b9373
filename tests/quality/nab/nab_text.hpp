// SPDX-License-Identifier: Apache-2.0
// Small text helpers shared by the corpus and result readers (nab_corpus.cpp, nab_results.cpp):
// whole-file reads, CSV lines and fields (CRLF accepted), strict number parsing. Internal to
// tests/quality/nab.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/error.hpp"

namespace medic::quality::nab::text {

namespace fs = std::filesystem;

inline constexpr std::int64_t k_us_per_second = 1'000'000;
inline constexpr std::int64_t k_seconds_per_day = 86'400;

inline Error io_error(const fs::path& path, std::string what) {
  return Error(ErrorCode::io, path.string() + ": " + std::move(what));
}

inline Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(io_error(path, "cannot open"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline Result<nlohmann::json> read_json(const fs::path& path) {
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
inline std::vector<std::string_view> lines_of(std::string_view text) {
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

inline std::vector<std::string_view> fields_of(std::string_view line) {
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

inline bool parse_number(std::string_view text, double& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

template <class Int>
bool parse_int(std::string_view text, Int& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

} // namespace medic::quality::nab::text
