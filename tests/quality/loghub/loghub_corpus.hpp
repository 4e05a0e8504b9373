// SPDX-License-Identifier: Apache-2.0
// Reads a Loghub-format corpus (BENCHMARK.md in the data folder): formats.tsv gives each
// system's header format; <dir>/<System>/<System>_2k.log holds the raw lines (CRLF or LF, the
// last line with or without a newline) and <System>_2k.log_structured.csv (RFC 4180) the
// ground truth, row k being line k. The header format is the only per-system input: it cuts the
// message (the `Content` field) out of each line, exactly as logparser does.
//
// Test and benchmark code: it allocates freely and uses RE2 for the header formats. Errors say
// which file and which line or row is wrong.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

namespace re2 {
class RE2;
}

namespace medic::quality::loghub {

struct SystemFormat {
  std::string system; // folder and file prefix: "HDFS"
  std::string format; // "<Date> <Time> <Pid> <Level> <Component>: <Content>"
};

// Lines of formats.tsv: "system<TAB>format"; '#' lines and blank lines are skipped. The floors
// file of medic-loghub-score has the same layout ("system<TAB>minimum GA").
[[nodiscard]] Result<std::vector<SystemFormat>> parse_formats(std::string_view tsv);

// Splits text into lines on '\n', dropping one '\r' before each '\n' (and at the very end). A
// final line without a newline is kept; a newline at the end does not add an empty line.
[[nodiscard]] std::vector<std::string> split_lines(std::string_view text);

// RFC 4180: fields may be quoted, hold commas, doubled quotes and line breaks; rows end with LF
// or CRLF. Fails on a quote left open or text after a closing quote.
[[nodiscard]] Result<std::vector<std::vector<std::string>>> parse_csv(std::string_view text);

// The column named `name` (from the header row) of every later row. Fails when the header has
// no such column or a row is too short.
[[nodiscard]] Result<std::vector<std::string>> csv_column(
    const std::vector<std::vector<std::string>>& rows, std::string_view name);

// The header format turned into an anchored regular expression as logparser builds it: each
// <Field> is a lazy group (?P<Field>.*?), literal text stays regex syntax, and every run of
// spaces becomes \s+. Matched against the line with surrounding whitespace stripped.
class HeaderFormat {
public:
  // Fails when the format has no <Content> field or is not a valid expression.
  [[nodiscard]] static Result<HeaderFormat> create(std::string_view format);

  // The regular expression built from the format (for tests and messages).
  [[nodiscard]] const std::string& pattern() const noexcept { return m_pattern; }

  // The message part of a line, or nullopt when the line does not match the format.
  [[nodiscard]] std::optional<std::string_view> content(std::string_view line) const;

private:
  HeaderFormat(std::string pattern, std::shared_ptr<const re2::RE2> regex, int content_group);

  std::string m_pattern;
  std::shared_ptr<const re2::RE2> m_regex; // shared: RE2 is neither copyable nor movable
  int m_content_group = 0;                 // 1-based capture group of <Content>
};

[[nodiscard]] std::string header_pattern(std::string_view format);

enum class Truth { original, corrected };

struct Sample {
  std::string system;
  std::vector<std::string> lines;           // raw lines, '\r' stripped
  std::vector<std::string> contents;        // message parts (the whole stripped line if no match)
  std::size_t header_misses = 0;            // lines the header format did not match
  std::vector<std::string> truth;           // ground-truth EventId per line
  std::vector<std::string> truth_templates; // ground-truth EventTemplate per line
};

// Paths of a system's files in a corpus folder.
[[nodiscard]] std::filesystem::path log_path(const std::filesystem::path& corpus,
                                             std::string_view system);
[[nodiscard]] std::filesystem::path structured_path(const std::filesystem::path& corpus,
                                                    std::string_view system, Truth truth);

// Reads a whole file; fails with the path and the reason.
[[nodiscard]] Result<std::string> read_file(const std::filesystem::path& path);

// Loads one system. Fails when a file is missing or unreadable, or when the structured file
// does not have exactly one row per log line.
[[nodiscard]] Result<Sample> load_sample(const std::filesystem::path& corpus,
                                         const SystemFormat& format, Truth truth);

} // namespace medic::quality::loghub
