// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/record_reader.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include <re2/re2.h>

#include "agent/tail/utf8.hpp"

namespace medic::agent::tail {

RecordReader::RecordReader(RecordRules rules, std::span<char> scratch, TailStats& stats,
                           RecordSink& sink)
    : m_rules(rules),
      m_scratch(scratch.first(rules.max_record_bytes)),
      m_stats(stats),
      m_sink(sink) {
  if (m_rules.continuation != nullptr) {
    m_record.reset(new char[rules.max_record_bytes]);
  }
}

void RecordReader::reset(std::uint64_t offset, FirstLine first_line) noexcept {
  m_position = offset;
  m_committed = offset;
  m_line_size = 0;
  release_line();
  m_line_start = offset;
  m_line_open = first_line == FirstLine::skip;
  m_line_discard = m_line_open;
  m_line_truncated = false;
  m_record_size = 0;
  m_record_pending = false;
  m_record_truncated = false;
}

void RecordReader::feed(std::string_view bytes, std::int64_t now_ms) {
  m_now_ms = now_ms;
  // Most chunks are plain ASCII: one check for all their lines instead of one per line.
  const bool ascii = is_ascii_text(bytes);
  std::size_t at = 0;
  while (at < bytes.size()) {
    const void* found = std::memchr(bytes.data() + at, '\n', bytes.size() - at);
    if (found == nullptr) {
      hold_partial(bytes.substr(at), m_position + at);
      break;
    }
    const auto newline = static_cast<std::size_t>(static_cast<const char*>(found) - bytes.data());
    const std::uint64_t end = m_position + newline + 1;
    std::string_view piece = bytes.substr(at, newline - at);
    if (m_line_open) {
      append_to_line(piece);
      m_line_open = false;
      if (m_line_discard) {
        m_line_discard = false;
        ++m_stats.lines;
        skipped(end);
      } else {
        complete_line(std::string_view(m_line.get(), m_line_size), m_line_start, end,
                      m_line_truncated, false);
      }
      release_line();
    } else {
      // The common case: the whole line is in this chunk and is used where it lies.
      const bool too_long = piece.size() > m_rules.max_record_bytes;
      if (too_long) {
        piece = piece.substr(0, utf8_cut(piece, m_rules.max_record_bytes));
      }
      complete_line(piece, m_position + at, end, too_long, ascii);
    }
    at = newline + 1;
  }
  m_position += bytes.size();
}

void RecordReader::hold_partial(std::string_view bytes, std::uint64_t start) {
  if (!m_line_open) {
    m_line_open = true;
    m_line_discard = false;
    m_line_truncated = false;
    m_line_size = 0;
    m_line_start = start;
  }
  append_to_line(bytes);
}

void RecordReader::append_to_line(std::string_view bytes) noexcept {
  if (m_line_truncated || m_line_discard) {
    return; // skipping to the newline
  }
  const std::size_t bound = m_rules.max_record_bytes + 1;
  const std::size_t wanted = m_line_size + std::min(bytes.size(), bound - m_line_size);
  if (wanted > m_line_capacity) {
    grow_line(std::min(bound, std::max({wanted, 2 * m_line_capacity, k_min_line_capacity})));
  }
  const std::size_t count = std::min(bytes.size(), m_line_capacity - m_line_size);
  std::memcpy(m_line.get() + m_line_size, bytes.data(), count);
  m_line_size += count;
  if (m_line_size < wanted) {
    m_line_truncated = true; // out of memory: cut where the buffer ends (repair fixes the end)
  } else if (m_line_size > m_rules.max_record_bytes) {
    // The extra byte shows whether the cut would split a character.
    m_line_size = utf8_cut(std::string_view(m_line.get(), m_line_size), m_rules.max_record_bytes);
    m_line_truncated = true;
  }
}

void RecordReader::grow_line(std::size_t capacity) noexcept {
  std::unique_ptr<char[]> grown(new (std::nothrow) char[capacity]);
  if (grown == nullptr) {
    return;
  }
  if (m_line_size > 0) {
    std::memcpy(grown.get(), m_line.get(), m_line_size);
  }
  m_line = std::move(grown);
  m_line_capacity = capacity;
}

void RecordReader::release_line() noexcept {
  if (m_line_capacity > k_kept_line_capacity) {
    m_line.reset();
    m_line_capacity = 0;
  }
}

void RecordReader::complete_line(std::string_view raw, std::uint64_t start, std::uint64_t end,
                                 bool truncated, bool ascii) {
  ++m_stats.lines;
  if (!truncated && !raw.empty() && raw.back() == '\r') {
    raw.remove_suffix(1);
  }
  std::string_view text = raw;
  if (!ascii && !is_clean_utf8(raw)) {
    const Utf8Repair repair = repair_utf8(raw, m_scratch);
    m_stats.invalid_utf8_replaced += repair.replaced;
    m_stats.nul_bytes_dropped += repair.nul_dropped;
    truncated = truncated || repair.truncated;
    text = std::string_view(m_scratch.data(), repair.size);
  }
  if (text.empty()) {
    skipped(end);
    return;
  }
  if (m_rules.continuation == nullptr) {
    emit(text, start, end, truncated);
    return;
  }
  add_to_record(text, start, end, truncated);
}

void RecordReader::add_to_record(std::string_view text, std::uint64_t start, std::uint64_t end,
                                 bool truncated) {
  const bool continues =
      m_record_pending && m_record_size + 1 + text.size() <= m_rules.max_record_bytes &&
      re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *m_rules.continuation);
  if (continues) {
    m_record[m_record_size] = '\n';
    std::memcpy(m_record.get() + m_record_size + 1, text.data(), text.size());
    m_record_size += 1 + text.size();
    m_record_end = end;
    m_record_truncated = m_record_truncated || truncated;
    m_record_touched_ms = m_now_ms;
    return;
  }
  flush_pending();
  std::memcpy(m_record.get(), text.data(), text.size());
  m_record_size = text.size();
  m_record_start = start;
  m_record_end = end;
  m_record_truncated = truncated;
  m_record_touched_ms = m_now_ms;
  m_record_pending = true;
}

void RecordReader::finish() {
  if (m_line_open) {
    m_line_open = false;
    if (m_line_discard) {
      m_line_discard = false;
      skipped(m_position);
    } else {
      complete_line(std::string_view(m_line.get(), m_line_size), m_line_start, m_position,
                    m_line_truncated, false);
    }
    release_line();
  }
  flush_pending();
}

void RecordReader::flush_pending() {
  if (!m_record_pending) {
    return;
  }
  m_record_pending = false;
  emit(std::string_view(m_record.get(), m_record_size), m_record_start, m_record_end,
       m_record_truncated);
}

void RecordReader::flush_if_idle(std::int64_t now_ms, std::int64_t idle_ms) {
  if (m_record_pending && now_ms - m_record_touched_ms >= idle_ms) {
    flush_pending();
  }
}

void RecordReader::emit(std::string_view text, std::uint64_t start, std::uint64_t end,
                        bool truncated) {
  m_committed = end;
  ++m_stats.records;
  if (truncated) {
    ++m_stats.truncated;
  }
  m_sink.on_record(text, start, end, truncated);
}

void RecordReader::skipped(std::uint64_t end) noexcept {
  if (!m_record_pending) {
    m_committed = end;
  }
}

} // namespace medic::agent::tail
