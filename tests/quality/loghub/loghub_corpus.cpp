// SPDX-License-Identifier: Apache-2.0
#include "tests/quality/loghub/loghub_corpus.hpp"

#include <fstream>
#include <sstream>

#include <re2/re2.h>

namespace medic::quality::loghub {

namespace {

// Python's str.strip() on an ASCII line: spaces, \t \n \v \f \r and \x1c-\x1f.
bool is_python_space(char c) noexcept {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

std::string_view strip(std::string_view s) noexcept {
  while (!s.empty() && is_python_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_python_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// Parser state of parse_csv, kept apart so that each step stays small.
struct CsvReader {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;      // inside a quoted field
  bool after_quote = false; // a quoted field just closed: only , or a line end may follow
  std::size_t line = 1;

  void end_field() {
    row.push_back(std::move(field));
    field.clear();
    after_quote = false;
  }
  void end_row() {
    end_field();
    rows.push_back(std::move(row));
    row.clear();
  }
};

} // namespace

Result<std::vector<SystemFormat>> parse_formats(std::string_view tsv) {
  std::vector<SystemFormat> out;
  std::size_t number = 0;
  for (const std::string& line : split_lines(tsv)) {
    ++number;
    if (strip(line).empty() || line.front() == '#') {
      continue;
    }
    const std::size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0 || tab + 1 == line.size()) {
      return fail(ErrorCode::invalid_argument,
                  "line " + std::to_string(number) + ": expected two fields split by a tab");
    }
    out.push_back(SystemFormat{line.substr(0, tab), line.substr(tab + 1)});
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
    end = end == std::string_view::npos ? text.size() : end;
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    lines.emplace_back(line);
    start = next;
  }
  return lines;
}

Result<std::vector<std::vector<std::string>>> parse_csv(std::string_view text) {
  CsvReader r;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (r.quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        r.field.push_back('"');
        ++i;
      } else if (c == '"') {
        r.quoted = false;
        r.after_quote = true;
      } else {
        r.line += c == '\n' ? 1 : 0;
        r.field.push_back(c);
      }
      continue;
    }
    if (c == ',') {
      r.end_field();
    } else if (c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      i += c == '\r' ? 1 : 0;
      r.end_row();
      ++r.line;
    } else if (r.after_quote) {
      return fail(ErrorCode::invalid_argument,
                  "CSV line " + std::to_string(r.line) + ": text after a closing quote");
    } else if (c == '"' && r.field.empty()) {
      r.quoted = true;
    } else {
      r.field.push_back(c);
    }
  }
  if (r.quoted) {
    return fail(ErrorCode::invalid_argument,
                "CSV line " + std::to_string(r.line) + ": quoted field not closed");
  }
  if (!r.field.empty() || !r.row.empty() || r.after_quote) {
    r.end_row();
  }
  return std::move(r.rows);
}

Result<std::vector<std::string>> csv_column(const std::vector<std::vector<std::string>>& rows,
                                            std::string_view name) {
  if (rows.empty()) {
    return fail(ErrorCode::invalid_argument, "CSV has no header row");
  }
  std::size_t column = 0;
  while (column < rows[0].size() && rows[0][column] != name) {
    ++column;
  }
  if (column == rows[0].size()) {
    return fail(ErrorCode::invalid_argument, "CSV header has no column " + std::string(name));
  }
  std::vector<std::string> out;
  out.reserve(rows.size() - 1);
  for (std::size_t r = 1; r < rows.size(); ++r) {
    if (column >= rows[r].size()) {
      return fail(ErrorCode::invalid_argument, "CSV row " + std::to_string(r + 1) + " has " +
                                                   std::to_string(rows[r].size()) + " fields, no " +
                                                   std::string(name));
    }
    out.push_back(rows[r][column]);
  }
  return out;
}

std::string header_pattern(std::string_view format) {
  std::string out = "^";
  std::size_t i = 0;
  while (i < format.size()) {
    const std::size_t close = format[i] == '<' ? format.find('>', i) : std::string_view::npos;
    const std::string_view name =
        close == std::string_view::npos ? std::string_view() : format.substr(i + 1, close - i - 1);
    if (!name.empty() && name.find('<') == std::string_view::npos) {
      out += "(?P<" + std::string(name) + ">.*?)";
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

Result<HeaderFormat> HeaderFormat::create(std::string_view format) {
  std::string pattern = header_pattern(format);
  RE2::Options options;
  options.set_log_errors(false);
  options.set_encoding(RE2::Options::EncodingLatin1); // logparser reads ISO-8859-1
  auto regex = std::make_shared<const re2::RE2>(pattern, options);
  if (!regex->ok()) {
    return fail(ErrorCode::invalid_argument,
                "header format '" + std::string(format) + "': " + regex->error());
  }
  const auto& groups = regex->NamedCapturingGroups();
  const auto found = groups.find("Content");
  if (found == groups.end()) {
    return fail(ErrorCode::invalid_argument,
                "header format '" + std::string(format) + "' has no <Content> field");
  }
  return HeaderFormat(std::move(pattern), std::move(regex), found->second);
}

HeaderFormat::HeaderFormat(std::string pattern, std::shared_ptr<const re2::RE2> regex,
                           int content_group)
    : m_pattern(std::move(pattern)), m_regex(std::move(regex)), m_content_group(content_group) {}

std::optional<std::string_view> HeaderFormat::content(std::string_view line) const {
  const std::string_view text = strip(line);
  const auto groups = static_cast<std::size_t>(m_regex->NumberOfCapturingGroups()) + 1;
  std::vector<re2::StringPiece> match(groups);
  if (!m_regex->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_BOTH,
                      match.data(), static_cast<int>(groups))) {
    return std::nullopt;
  }
  const re2::StringPiece& c = match[static_cast<std::size_t>(m_content_group)];
  return std::string_view(c.data() == nullptr ? text.data() : c.data(), c.size());
}

std::filesystem::path log_path(const std::filesystem::path& corpus, std::string_view system) {
  return corpus / std::string(system) / (std::string(system) + "_2k.log");
}

std::filesystem::path structured_path(const std::filesystem::path& corpus, std::string_view system,
                                      Truth truth) {
  const char* suffix =
      truth == Truth::original ? "_2k.log_structured.csv" : "_2k.log_structured_corrected.csv";
  return corpus / std::string(system) / (std::string(system) + suffix);
}

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::io, "cannot open " + path.string());
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) {
    return fail(ErrorCode::io, "cannot read " + path.string());
  }
  return out.str();
}

Result<Sample> load_sample(const std::filesystem::path& corpus, const SystemFormat& format,
                           Truth truth) {
  auto header = HeaderFormat::create(format.format);
  auto text = header ? read_file(log_path(corpus, format.system)) : fail(header.error());
  const auto csv_file = structured_path(corpus, format.system, truth);
  auto csv = text ? read_file(csv_file) : fail(text.error());
  auto rows = csv ? parse_csv(*csv) : fail(csv.error());
  if (!rows) {
    return fail(std::move(rows.error()).context(format.system));
  }
  Sample sample;
  sample.system = format.system;
  sample.lines = split_lines(*text);
  auto ids = csv_column(*rows, "EventId");
  auto templates = ids ? csv_column(*rows, "EventTemplate") : fail(ids.error());
  if (!templates) {
    return fail(std::move(templates.error()).context(csv_file.string()));
  }
  if (ids->size() != sample.lines.size()) {
    return fail(ErrorCode::invalid_argument,
                csv_file.string() + ": " + std::to_string(ids->size()) + " rows for " +
                    std::to_string(sample.lines.size()) + " log lines");
  }
  sample.truth = std::move(*ids);
  sample.truth_templates = std::move(*templates);
  for (const std::string& line : sample.lines) {
    const auto content = header->content(line);
    sample.header_misses += content ? 0 : 1;
    sample.contents.emplace_back(content ? *content : strip(line));
  }
  return sample;
}

} // namespace medic::quality::loghub
