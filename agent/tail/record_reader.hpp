// SPDX-License-Identifier: Apache-2.0
// Turns the bytes of one file, fed in order as they are read, into records: lines split at '\n',
// continuation lines appended to the record before them, everything bounded by
// max_record_bytes, text repaired to valid UTF-8. No I/O. The partial-line buffer grows on demand
// (up to max_record_bytes + 1) only while a line is split across reads, and a buffer larger than
// k_kept_line_capacity is freed when its line completes: ten idle files do not hold ten
// max_record_bytes buffers. The record buffer (continuation patterns only) is allocated once;
// the repair scratch is shared.
//
// Lines: a trailing '\r' is dropped; a line that is empty once repaired (nothing but NUL bytes,
// say) is skipped. A partial line (no newline yet) is held until its newline arrives; only
// finish() (the file is done for good) turns it into a record. A line longer than
// max_record_bytes is cut at a character boundary and the rest up to its newline skipped; the
// record is handed out when the newline arrives, so the cursor never points into a line.
//
// Loop thread only (owned by one tailed file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "agent/tail/tail_types.hpp"

namespace re2 {
class RE2;
}

namespace medic::agent::tail {

struct RecordRules {
  const re2::RE2* continuation = nullptr; // null: one record per line
  std::size_t max_record_bytes = 0;
};

// Receives the records; the text is only valid during the call.
class RecordSink {
public:
  virtual void on_record(std::string_view text, std::uint64_t offset, std::uint64_t end_offset,
                         bool truncated) = 0;

protected:
  ~RecordSink() = default;
};

// Whether the first bytes fed after a reset() start a line or are the end of one to discard.
enum class FirstLine { whole, skip };

class RecordReader {
public:
  // The first partial line allocates this much; a line buffer up to k_kept_line_capacity stays
  // allocated between partial lines, a larger one is freed when its line completes.
  static constexpr std::size_t k_min_line_capacity = 256;
  static constexpr std::size_t k_kept_line_capacity = 1024;

  // `scratch` holds at least max_record_bytes and may be shared by every reader of the loop
  // (records are handed out synchronously). `stats` and `sink` must outlive the reader.
  RecordReader(RecordRules rules, std::span<char> scratch, TailStats& stats, RecordSink& sink);

  // Starts over at `offset`, dropping the partial line and the pending record.
  void reset(std::uint64_t offset, FirstLine first_line) noexcept;
  // The bytes at position(), in order. `now_ms` times the idle flush.
  void feed(std::string_view bytes, std::int64_t now_ms);
  // The file is done for good: the partial line becomes a record, the pending record goes out.
  void finish();
  // Hands out the pending multi-line record, if any (it holds complete lines only).
  void flush_pending();
  void flush_if_idle(std::int64_t now_ms, std::int64_t idle_ms);

  // Where a restart must read again from: after the last record handed out or line skipped.
  [[nodiscard]] std::uint64_t committed() const noexcept { return m_committed; }
  // Start of the partial line, or position() when there is none.
  [[nodiscard]] std::uint64_t consumed() const noexcept {
    return m_line_open ? m_line_start : m_position;
  }
  [[nodiscard]] std::uint64_t position() const noexcept { return m_position; }
  // Bytes held for partial lines now (0, up to k_kept_line_capacity, or more while a long line
  // is split across reads).
  [[nodiscard]] std::size_t line_buffer_bytes() const noexcept { return m_line_capacity; }

private:
  void hold_partial(std::string_view bytes, std::uint64_t start);
  void append_to_line(std::string_view bytes) noexcept;
  // Keeps the partial line; on allocation failure the capacity stays as it was.
  void grow_line(std::size_t capacity) noexcept;
  // Frees the line buffer if it is larger than k_kept_line_capacity (the line is done).
  void release_line() noexcept;
  // `ascii`: the line is known to be clean (plain ASCII, no NUL) and is not checked again.
  void complete_line(std::string_view raw, std::uint64_t start, std::uint64_t end, bool truncated,
                     bool ascii);
  void add_to_record(std::string_view text, std::uint64_t start, std::uint64_t end, bool truncated);
  void emit(std::string_view text, std::uint64_t start, std::uint64_t end, bool truncated);
  void skipped(std::uint64_t end) noexcept;

  RecordRules m_rules;
  std::span<char> m_scratch;
  TailStats& m_stats;
  RecordSink& m_sink;
  std::uint64_t m_position = 0;
  std::uint64_t m_committed = 0;
  std::int64_t m_now_ms = 0;

  // The partial line: its first max_record_bytes (+1 to see where a character ends).
  std::unique_ptr<char[]> m_line;
  std::size_t m_line_capacity = 0;
  std::size_t m_line_size = 0;
  std::uint64_t m_line_start = 0;
  bool m_line_open = false;
  bool m_line_truncated = false;
  bool m_line_discard = false;

  // The pending multi-line record (repaired text), when there is a continuation pattern.
  std::unique_ptr<char[]> m_record;
  std::size_t m_record_size = 0;
  std::uint64_t m_record_start = 0;
  std::uint64_t m_record_end = 0;
  std::int64_t m_record_touched_ms = 0;
  bool m_record_pending = false;
  bool m_record_truncated = false;
};

} // namespace medic::agent::tail
