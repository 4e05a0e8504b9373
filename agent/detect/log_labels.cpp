// SPDX-License-Identifier: Apache-2.0
#include "agent/detect/log_labels.hpp"

#include <algorithm>
#include <utility>

#include <re2/re2.h>

namespace medic::agent::detect {

namespace {

// Source names (paths, units) longer than this are cut in stored lines.
constexpr std::size_t k_max_source_bytes = 256;

} // namespace

std::string_view cut_utf8(std::string_view text, std::size_t max_bytes) noexcept {
  if (text.size() <= max_bytes) {
    return text;
  }
  std::size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) and the lead byte they belong to, at most 3.
  std::size_t back = 0;
  while (end > 0 && back < 3 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) {
    --end;
    ++back;
  }
  return text.substr(0, end);
}

Result<LogLabelExtractor> LogLabelExtractor::create(std::string_view pattern, bool case_insensitive,
                                                    std::size_t max_labels,
                                                    std::size_t max_label_bytes) {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  options.set_case_sensitive(!case_insensitive);
  LogLabelExtractor extractor;
  extractor.m_re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!extractor.m_re->ok()) {
    std::string message = "'";
    message.append(pattern).append("': ").append(extractor.m_re->error());
    return fail(ErrorCode::invalid_argument, std::move(message));
  }
  std::vector<std::pair<int, std::string>> named;
  for (const auto& [name, group] : extractor.m_re->NamedCapturingGroups()) {
    named.emplace_back(group, name);
  }
  std::sort(named.begin(), named.end());
  named.resize(std::min(named.size(), max_labels));
  for (auto& [group, name] : named) {
    extractor.m_groups.push_back(group);
    extractor.m_names.push_back(std::move(name));
  }
  extractor.m_max_label_bytes = max_label_bytes;
  if (extractor.m_names.empty()) {
    // Most rules name no group: their compiled program (1-8 KiB each) would never run.
    extractor.m_re.reset();
    return extractor;
  }
  const int groups = extractor.m_re->NumberOfCapturingGroups();
  extractor.m_submatches.resize(static_cast<std::size_t>(groups) + 1);
  extractor.m_labels.reserve(extractor.m_names.size());
  return extractor;
}

LogLabelExtractor::LogLabelExtractor() = default;
LogLabelExtractor::LogLabelExtractor(LogLabelExtractor&& other) noexcept = default;
LogLabelExtractor& LogLabelExtractor::operator=(LogLabelExtractor&& other) noexcept = default;
LogLabelExtractor::~LogLabelExtractor() = default;

std::span<const LogLabel> LogLabelExtractor::extract(std::string_view line) {
  m_labels.clear();
  if (m_names.empty()) {
    return {};
  }
  // Only as many submatches as the last label's group need filling.
  const int wanted = *std::max_element(m_groups.begin(), m_groups.end()) + 1;
  std::vector<re2::StringPiece>& pieces = m_submatches;
  if (!m_re->Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::UNANCHORED,
                   pieces.data(), wanted)) {
    return {};
  }
  for (std::size_t i = 0; i < m_names.size(); ++i) {
    const re2::StringPiece& piece = pieces[static_cast<std::size_t>(m_groups[i])];
    if (piece.data() == nullptr) {
      continue; // the group did not take part in the match
    }
    const std::string_view value(piece.data(), piece.size());
    m_labels.push_back(LogLabel{m_names[i], cut_utf8(value, m_max_label_bytes)});
  }
  return m_labels;
}

StoredLine::StoredLine(std::size_t max_line_bytes, std::size_t max_labels,
                       std::size_t max_label_bytes)
    : m_max_line_bytes(max_line_bytes),
      m_max_labels(max_labels),
      m_max_label_bytes(max_label_bytes) {}

void StoredLine::assign(std::string_view source, std::string_view line, std::uint32_t template_id,
                        std::span<const LogLabel> labels) {
  if (!m_reserved) {
    // Reserved at the first line, not at construction: most rules never match on a host.
    m_source.reserve(k_max_source_bytes);
    m_line.reserve(m_max_line_bytes);
    m_values.reserve(m_max_labels * m_max_label_bytes);
    m_labels.resize(m_max_labels);
    m_reserved = true;
  }
  m_source.assign(cut_utf8(source, k_max_source_bytes));
  m_line.assign(cut_utf8(line, m_max_line_bytes));
  m_template_id = template_id;
  m_values.clear();
  m_label_count = std::min(labels.size(), m_labels.size());
  // Names point into the rule's extractor, which outlives this copy; values are copied. The
  // reserve above means appending never moves m_values, so earlier views stay valid.
  for (std::size_t i = 0; i < m_label_count; ++i) {
    const std::string_view value = cut_utf8(labels[i].value, m_max_label_bytes);
    const std::size_t offset = m_values.size();
    m_values.append(value);
    m_labels[i] = LogLabel{labels[i].name, std::string_view(m_values).substr(offset, value.size())};
  }
}

} // namespace medic::agent::detect
