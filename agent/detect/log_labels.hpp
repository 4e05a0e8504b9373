// SPDX-License-Identifier: Apache-2.0
// Labels from the named groups of a rule's pattern, (?P<host>\S+), extracted with RE2 from a
// line that already matched the rule. Values are views into the line, cut to a byte bound on a
// UTF-8 character boundary (a cut never makes a valid value invalid; invalid bytes in the line
// itself are passed through as they are).
//
// Not thread-safe: extract() fills buffers owned by the extractor (the agent's loop).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/detect/log_rules.hpp"
#include "shared/error.hpp"

namespace re2 {
class RE2;
class StringPiece;
} // namespace re2

namespace medic::agent::detect {

// The longest prefix of `text` of at most max_bytes that does not end inside a UTF-8 sequence.
[[nodiscard]] std::string_view cut_utf8(std::string_view text, std::size_t max_bytes) noexcept;

class LogLabelExtractor {
public:
  // Fails with invalid_argument when RE2 rejects the pattern. Named groups past max_labels
  // (by position in the pattern) are ignored.
  [[nodiscard]] static Result<LogLabelExtractor> create(std::string_view pattern,
                                                        bool case_insensitive,
                                                        std::size_t max_labels,
                                                        std::size_t max_label_bytes);

  LogLabelExtractor(LogLabelExtractor&& other) noexcept;
  LogLabelExtractor& operator=(LogLabelExtractor&& other) noexcept;
  ~LogLabelExtractor();

  // True when the pattern has no named group: extract() always returns nothing, and the
  // extractor keeps no compiled pattern (create() only checks it).
  [[nodiscard]] bool empty() const noexcept { return m_names.empty(); }
  // Labels of the groups that took part in the match, in pattern order; views into `line` and
  // into this extractor, valid until the next call. Empty when the pattern does not match.
  [[nodiscard]] std::span<const LogLabel> extract(std::string_view line);

private:
  LogLabelExtractor();

  std::unique_ptr<re2::RE2> m_re;
  std::vector<std::string> m_names;
  std::vector<int> m_groups; // capture group index of each name
  std::size_t m_max_label_bytes = 0;
  std::vector<re2::StringPiece> m_submatches; // reused: one per capture group + the whole match
  std::vector<LogLabel> m_labels;             // reused
};

// A bounded copy of one line with its labels, kept by a rule between the first match of a burst
// and the signals that report it. Capacity is reserved by the first assign(); later ones never grow
// it (so a rule that never matches holds no buffer).
class StoredLine {
public:
  StoredLine(std::size_t max_line_bytes, std::size_t max_labels, std::size_t max_label_bytes);

  void assign(std::string_view source, std::string_view line, std::uint32_t template_id,
              std::span<const LogLabel> labels);
  [[nodiscard]] std::string_view source() const noexcept { return m_source; }
  [[nodiscard]] std::string_view line() const noexcept { return m_line; }
  [[nodiscard]] std::uint32_t template_id() const noexcept { return m_template_id; }
  [[nodiscard]] std::span<const LogLabel> labels() const noexcept {
    return {m_labels.data(), m_label_count};
  }

private:
  std::size_t m_max_line_bytes;
  std::size_t m_max_labels;
  std::size_t m_max_label_bytes;
  bool m_reserved = false;
  std::string m_source;
  std::string m_line;
  std::string m_values;
  std::vector<LogLabel> m_labels;
  std::size_t m_label_count = 0;
  std::uint32_t m_template_id = 0;
};

} // namespace medic::agent::detect
