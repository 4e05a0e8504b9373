// SPDX-License-Identifier: Apache-2.0
// Followed log files to signals and log events: the tailer hands each record to the log rules
// (one multi-pattern match and one template-mining step per record); what they report is
// turned into protocol views for the batch. Gaps the tailer reports become gap events. With
// logs.kernel, the kernel's log (/dev/kmsg, kmsg_source.hpp) is one more source, named
// "kernel": its records reach the rules as lines do, with the kernel's level as their priority,
// and its cursor is saved with the files' (path /dev/kmsg, device = the boot).
//
// With template mining off, a line only matters if a rule matches it: one scan of each whole read
// chunk (LinePrefilter, the rule patterns compiled once more for blocks of lines) picks the lines
// that may match, and only those go through the rules' per-line matcher.
//
// Exactly-once across restarts: records are handed out only once; the tail cursors are saved
// in the spool database in the same transaction as the events batch carrying the records they
// passed (see Agent::flush_events), so after a crash either both are there or neither is.
// Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/sensing_config.hpp"
#include "agent/detect/log_matcher.hpp"
#include "agent/detect/log_rules.hpp"
#include "agent/loop/log_context.hpp"
#include "agent/tail/kmsg_source.hpp"
#include "agent/tail/tailer.hpp"
#include "protocol/message.hpp"
#include "shared/clock.hpp"
#include "shared/sqlite/database.hpp"

struct hs_scratch; // NOLINT: Hyperscan's hs_scratch_t

namespace medic::agent::loop {

// Which lines of a read chunk may match a rule pattern: one Hyperscan scan of the whole chunk,
// with the patterns compiled for blocks (^ and $ at line breaks, every match end reported),
// instead of one scan per line. A pattern that matches a line on its own has a match ending
// inside that line in the chunk too: ^, $, \b and \B see the line's '\n' as they see the ends
// of a lone line. Matches that run across a '\n' only make lines look like candidates, which
// the per-line matcher then settles. Loop thread only.
class LinePrefilter {
public:
  // Null when a pattern does not qualify (\A, \z, \Z, or an inline flag turned off: their
  // meaning changes inside a chunk) or Hyperscan cannot compile the set this way.
  [[nodiscard]] static std::unique_ptr<LinePrefilter> create(
      const std::vector<config::LogRuleConfig>& rules);
  LinePrefilter(const LinePrefilter&) = delete;
  LinePrefilter& operator=(const LinePrefilter&) = delete;
  ~LinePrefilter();

  // Scans a chunk; may_match() then answers for its lines, in order, until the next scan.
  void scan(std::string_view chunk) noexcept;
  // `line`: a view into the chunk last scanned, followed there by its '\n'; lines asked about
  // in the order they appear.
  [[nodiscard]] bool may_match(std::string_view line) noexcept;

private:
  LinePrefilter(detect::BlockDatabase database, hs_scratch* scratch);
  static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                      unsigned int flags, void* context);

  detect::BlockDatabase m_database;
  hs_scratch* m_scratch;
  std::vector<std::uint32_t> m_ends; // match end offsets in the chunk, sorted
  std::size_t m_next = 0;
  std::uintptr_t m_base = 0;
  std::uint64_t m_give_up_at = UINT64_MAX; // lines reaching this offset may match
};

struct LogOutput {
  std::function<void(const protocol::SignalView&)> signal;
  std::function<void(const protocol::LogEventView&)> event;
  // The lines around a firing line (log_context.hpp), after its signal; unset: dropped.
  std::function<void(protocol::Evidence)> evidence;
};

struct LogPipelineCounters {
  std::uint64_t lines_prefiltered = 0; // no rule could match them: only mined (if mining is on)
  std::uint64_t events = 0;
  std::uint64_t events_suppressed = 0; // over max_log_events_per_flush
  std::uint64_t signals = 0;
  std::uint64_t gaps = 0;
};

class LogPipeline final : private detect::LogSink {
public:
  // Compiles the log rules (errors name the rule) and creates the tailer.
  [[nodiscard]] static Result<std::unique_ptr<LogPipeline>> create(
      uv_loop_t& loop, const config::SensingConfig& config, const Clock& clock, LogOutput output);
  ~LogPipeline() override;

  // At start-up, on the thread that owns `db` (before the spool worker runs): where each file
  // stopped last time.
  [[nodiscard]] static Result<std::vector<tail::TailCursor>> load_cursors(sqlite::Database& db);
  // Before start().
  [[nodiscard]] Result<void> restore(std::span<const tail::TailCursor> cursors);
  [[nodiscard]] Result<void> start();
  // Also sends the log context still waiting for its after-lines.
  void stop() noexcept;
  // Lets time pass for the log rules' windows (and log context waits), and does the tailer's
  // periodic work (poll, idle flush, glob); about once a second.
  void tick() noexcept;
  // A new flush window: the per-flush event budget starts again.
  void new_flush_window() noexcept { m_events_this_flush = 0; }

  // The cursors as they stand, when they moved since cursors_saved() (else nullopt).
  [[nodiscard]] std::optional<std::vector<tail::TailCursor>> cursors_if_moved() const;
  // The spool took the cursors cursors_if_moved() just returned (same loop turn).
  void cursors_saved() noexcept { m_saved_progress = progress(); }

  [[nodiscard]] bool active() const noexcept { return m_tailer != nullptr || m_kernel_wanted; }
  [[nodiscard]] const tail::TailStats* tail_stats() const noexcept;
  [[nodiscard]] const detect::LogRuleCounters& rule_counters() const noexcept;
  [[nodiscard]] const LogPipelineCounters& counters() const noexcept { return m_counters; }

private:
  LogPipeline(uv_loop_t& loop, const config::SensingConfig& config, const Clock& clock,
              LogOutput output, detect::LogRules rules);
  void on_chunk(std::string_view bytes) noexcept;
  void on_record(const tail::TailRecord& record) noexcept;
  void on_gap(const tail::TailGap& gap) noexcept;
  void on_kernel_record(const tail::KmsgRecord& record, std::string_view text) noexcept;
  void on_kernel_gap(std::uint64_t first_seq, std::uint64_t count) noexcept;
  // Whether the record's text is a whole line of the chunk being handed out.
  [[nodiscard]] bool in_chunk(std::string_view text) const noexcept;
  void on_signal(const detect::LogSignal& signal) noexcept override;
  void on_event(const detect::LogEvent& event) noexcept override;

  uv_loop_t& m_loop;
  bool m_kernel_wanted; // logs.kernel
  std::string m_kernel_path;
  std::optional<tail::KmsgCursor> m_kernel_resume;
  std::unique_ptr<tail::KmsgSource> m_kernel;        // null when not wanted or not readable
  std::vector<config::LogRuleConfig> m_rule_configs; // LogRule id N is index N - 1
  std::uint32_t m_max_events;
  const Clock& m_clock;
  LogOutput m_output;
  detect::LogRules m_rules;
  bool m_mining;
  // Tells the lines no rule can match from a whole read chunk: those skip the per-line match
  // (and, with mining off, the rules altogether); null when unusable.
  std::unique_ptr<LinePrefilter> m_prefilter;
  std::string_view m_chunk; // the read whose records are being handed out
  std::int64_t m_chunk_t_ms = 0;
  std::unique_ptr<tail::Tailer> m_tailer;
  std::unique_ptr<LogContext> m_context;      // null without log sources
  const tail::TailRecord* m_record = nullptr; // during on_record only
  // Records and position changes (gaps, rotations, truncations) so far, of files and kernel:
  // the cursors moved since they were saved when this differs from m_saved_progress.
  struct Progress {
    std::uint64_t records = ~0ULL;
    std::uint64_t moves = ~0ULL;
    friend bool operator==(const Progress&, const Progress&) = default;
  };
  [[nodiscard]] Progress progress() const noexcept;
  Progress m_saved_progress;
  std::uint32_t m_events_this_flush = 0;
  LogPipelineCounters m_counters;
};

// The message part of a syslog-style line ("Nov 23 01:02:03 host prog[42]: message"), or of
// an ISO-8601-stamped one ("2026-11-23T01:02:03Z host prog: message"); the whole line when it
// has neither shape. What the template miner should see.
[[nodiscard]] std::string_view log_message(std::string_view line) noexcept;

} // namespace medic::agent::loop
