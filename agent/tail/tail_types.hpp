// SPDX-License-Identifier: Apache-2.0
// Value types of the log tailer: what to tail (TailSource, TailerOptions), what it hands out
// (TailRecord, TailGap), where it stands (TailCursor) and what it counted (TailStats).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

namespace medic::agent::tail {

// Where to start in a file that is present at the very first start and has no saved cursor.
// Files found later, and every file of a source that already has saved cursors, are read from
// their beginning (they appeared while the agent was not looking).
enum class StartAt { end, beginning };

struct TailSource {
  std::string name;               // unique among sources; copied into every record
  std::vector<std::string> globs; // absolute glob(3) patterns, e.g. "/var/log/app/*.log"
  // RE2 pattern; a line matching it is appended to the previous record (e.g. "^\\s" or
  // "^(\\s+at |Caused by:)"). Empty: every line is its own record.
  std::string continuation_pattern;
  // Bounds the text of a record: a longer line is cut (TailRecord::truncated), a multi-line
  // record that would grow past it is emitted and the next continuation line starts a new one.
  std::size_t max_record_bytes = std::size_t{16} * 1024;
  StartAt start_at = StartAt::end;
};

enum class ChangeWatch { inotify_and_poll, poll_only };

struct TailerOptions {
  std::vector<TailSource> sources;
  // Globs are evaluated again this often (and at once when inotify reports a matching name).
  std::chrono::milliseconds glob_interval{10'000};
  // Every open file is fstat'ed (and read if it grew) this often, whatever inotify says.
  std::chrono::milliseconds poll_interval{1'000};
  // ...and its path stat'ed (was it renamed or replaced?) at each poll if inotify does not watch
  // its directory, else this often: inotify reports renames, creates and deletes at once, and
  // this is the safety net for file systems where it does not see them (network ones). A stat
  // by path can block, so it runs in the threadpool: one thread wake-up each.
  std::chrono::milliseconds stat_interval{10'000};
  // What inotify and the poll report is read at most this often (at once after a quiet spell, or
  // once 256 KiB or more were read within one interval): every file that changed meantime is read
  // in one pass, instead of one per write. Creations, deletions and renames are served at once.
  // Adds at most about this much latency; 0 reads at once. With external_tick, a pass due within
  // half an interval is served at the tick (no wake-up of its own).
  std::chrono::milliseconds read_interval{1000};
  // A multi-line record with no new line for this long is emitted.
  std::chrono::milliseconds idle_flush{1'000};
  // A file renamed away stays open this long after its last growth, for writers that have not
  // reopened yet; 0 closes it as soon as it has been read to its end.
  std::chrono::milliseconds rotate_wait{5'000};
  std::size_t max_files = 128;                            // paths tailed; more are counted, logged
  std::size_t read_chunk_bytes = std::size_t{128} * 1024; // one read request
  std::size_t max_inflight = 2;                           // file system requests in the threadpool
  ChangeWatch change_watch = ChangeWatch::inotify_and_poll;
  // The owner calls Tailer::tick() (at least once a second) instead of the tailer running a
  // timer of its own: one wake-up fewer for an owner that has a timer anyway. poll_interval,
  // idle_flush and glob_interval are then served at the owner's tick.
  bool external_tick = false;
};

// Valid only during the on_record call: the views point into the tailer's buffers.
struct TailRecord {
  std::string_view source_name;
  std::string_view path;        // the path the file was opened at (a rotated file keeps it)
  std::string_view text;        // valid UTF-8, no NUL, no trailing newline
  std::uint64_t offset = 0;     // first byte of the record in the file
  std::uint64_t end_offset = 0; // just after its last newline (or last byte at a final flush)
  bool truncated = false;       // bytes were cut to max_record_bytes
};

enum class GapReason { truncated, rotated_away, deleted, unreadable };

[[nodiscard]] std::string_view to_string(GapReason reason) noexcept;

// Bytes that will never be handed out. `bytes` is the best known lower bound, 0 when unknown
// (a file rotated or truncated while the agent was stopped).
struct TailGap {
  std::string_view source_name;
  std::string_view path;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  GapReason reason = GapReason::truncated;
};

// Where a file stands for exactly-once delivery across restarts. `offset` is just after the
// last byte handed out in a record (or deliberately skipped): a partial line or an unfinished
// multi-line record is read again after a restart. `head_hash` is the FNV-1a 64 hash of the
// first min(1024, offset) bytes, so a reused inode with other contents is not resumed.
struct TailCursor {
  std::string path;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t offset = 0;
  std::uint64_t head_hash = 0;

  friend bool operator==(const TailCursor&, const TailCursor&) = default;
};

struct TailStats {
  std::uint64_t lines = 0;                 // complete lines split (empty ones included)
  std::uint64_t bytes = 0;                 // bytes read from files
  std::uint64_t records = 0;               // records handed to on_record
  std::uint64_t truncated = 0;             // records cut to max_record_bytes
  std::uint64_t invalid_utf8_replaced = 0; // invalid sequences replaced by U+FFFD
  std::uint64_t nul_bytes_dropped = 0;
  std::uint64_t gaps = 0;
  std::uint64_t gap_bytes = 0;
  std::uint64_t truncations = 0;   // files seen shrinking (copytruncate)
  std::uint64_t rotations = 0;     // files renamed or deleted away from their path
  std::uint64_t files_open = 0;    // descriptors held now
  std::uint64_t files_skipped = 0; // matching paths beyond max_files, at the last glob
  std::uint64_t open_errors = 0;
  std::uint64_t read_errors = 0;
  std::uint64_t reads = 0;         // read calls made (a read that found nothing new included)
  std::uint64_t fstats = 0;        // fstat calls that succeeded
  std::uint64_t io_passes = 0;     // I/O passes (each serves many files and calls)
  std::uint64_t inline_passes = 0; // of them, run on the loop: no threadpool round trip
  // Passes begun on the loop that went on in the threadpool: a read would have waited for the
  // disk, or the file system has no RWF_NOWAIT (then that file's reads go there at once).
  std::uint64_t inline_fallbacks = 0;
  // Times inotify was paused: events woke the loop twice within one coalescing window.
  std::uint64_t inotify_pauses = 0;
};

// Checks every field; errors say which source and which field ("tail source 'app': ...").
[[nodiscard]] Result<void> validate(const TailerOptions& options);

} // namespace medic::agent::tail
