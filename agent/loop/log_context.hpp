// SPDX-License-Identifier: Apache-2.0
// "The last N lines around the log line that fired" (issue 5, diagnostic hooks): every followed
// line is copied into a fixed-capacity ring of its source, allocated at start-up; when a log
// rule fires, the lines before the firing line (of the same file), the line itself and up to
// `after` lines that follow it become one protocol::Evidence (action "log-context") for the
// signal's fingerprint. With after-lines wanted, the evidence is held until they arrived or
// k_after_wait_ms passed. In the steady state (no rule firing) nothing is allocated per line.
// Loop thread only (owned by LogPipeline).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/sensing_config.hpp"
#include "agent/tail/tail_types.hpp"
#include "protocol/message.hpp"

namespace medic::agent::loop {

// The most recent lines of one source, each cut to k_max_line_bytes, in slots allocated once.
class LineRing {
public:
  static constexpr std::size_t k_max_line_bytes = 512;

  struct Line {
    std::string_view text;      // up to k_max_line_bytes of the line, bytes as given
    std::uint64_t offset = 0;   // of the line in its file
    std::uint64_t size = 0;     // the whole line's size; > text.size() when cut
    const void* file = nullptr; // identity of the file it came from (the record's path buffer)
  };

  explicit LineRing(std::size_t lines); // at least 1
  void push(std::string_view text, std::uint64_t offset, const void* file) noexcept;
  // age 0: the newest line; age < size().
  [[nodiscard]] Line at(std::size_t age) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return m_count; }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_meta.size(); }

private:
  struct Meta {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    const void* file = nullptr;
    std::uint32_t stored = 0;
  };
  std::vector<char> m_bytes; // capacity() slots of k_max_line_bytes
  std::vector<Meta> m_meta;
  std::size_t m_next = 0; // the slot the next line goes to
  std::size_t m_count = 0;
};

// Appends "<marker><offset>: <text>\n" with every byte safe to show: valid UTF-8 is kept,
// invalid bytes and control characters become "\xNN", a line break inside a multi-line record
// becomes an indented continuation, and a cut line ends with "[... N more bytes]".
void append_context_line(std::string& out, const LineRing::Line& line, char marker);

class LogContext {
public:
  static constexpr std::string_view k_action = "log-context";
  // Bounded by what one Evidence may carry on the wire (protocol::Limits).
  static constexpr std::size_t k_max_evidence_bytes = protocol::Limits::k_max_output_bytes;
  static constexpr std::int64_t k_after_wait_ms = 2000;
  static constexpr std::size_t k_max_open = 8; // evidence waiting for after-lines

  using Emit = std::function<void(protocol::Evidence)>;

  // One ring per source that wants context (before + 1 lines); `settings` by source name,
  // defaults for a source without an entry.
  LogContext(const std::vector<tail::TailSource>& sources,
             const std::vector<config::LogContextConfig>& settings, Emit emit);

  // Every record, before the rules see it. Allocates nothing.
  void on_line(const tail::TailRecord& record) noexcept;
  // A rule fired on `record` (the line last given to on_line), or on no line (nullptr, e.g.
  // from a window's tick): the lines of `source` so far. Allocates (a firing is rare); when
  // memory runs out the context is logged as lost, nothing escapes.
  void on_fire(const tail::TailRecord* record, std::string_view source,
               std::string_view fingerprint, std::string_view rule, std::int64_t now_unix_ms,
               std::int64_t now_mono_ms) noexcept;
  // Sends the held evidence whose after-lines did not all come within k_after_wait_ms.
  void tick(std::int64_t now_mono_ms) noexcept;
  // Sends everything still held (at stop).
  void flush() noexcept;

  [[nodiscard]] std::size_t open() const noexcept { return m_open.size(); }

private:
  struct Source {
    std::string name;
    std::uint32_t before = 0;
    std::uint32_t after = 0;
    LineRing ring;
  };
  struct Open {
    std::size_t source = 0;
    const void* file = nullptr;
    std::uint32_t after_left = 0;
    std::int64_t deadline_ms = 0; // monotonic
    bool full = false;            // the byte bound is reached: no more lines fit
    protocol::Evidence evidence;
  };

  [[nodiscard]] Source* find(std::string_view name) noexcept;
  void keep(const tail::TailRecord* record, Source& source, std::string_view fingerprint,
            std::string_view rule, std::int64_t now_unix_ms, std::int64_t now_mono_ms);
  [[nodiscard]] static std::string before_lines(const Source& source, const void* file,
                                                std::size_t skip, std::size_t budget);
  void feed_open(std::size_t source, const tail::TailRecord& record) noexcept;
  void send(Open& open) noexcept;

  std::vector<Source> m_sources;
  Emit m_emit;
  std::deque<Open> m_open;
  const char* m_last_name = nullptr; // the record's source name buffer last looked up
  Source* m_last = nullptr;
};

} // namespace medic::agent::loop
