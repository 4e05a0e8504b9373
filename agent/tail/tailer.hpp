// SPDX-License-Identifier: Apache-2.0
// A rotation-safe log tailer on the agent's libuv loop.
//
// Files are found by glob (re-evaluated every glob_interval, and at once when inotify reports
// a matching name), watched with inotify on their directories plus a poll timer, and read in
// chunks through libuv's threadpool (open, fstat, stat, read, close and glob never run on the
// loop). At most max_inflight requests are in the threadpool at once, each file has at most one,
// and files take turns chunk by chunk, so one large or slow file does not starve the others.
//
// What it guarantees, for each file it has open: every line is handed out once, whole, in
// order, or reported in a TailGap. In particular:
//  - rename rotation: the old file is read to its end before the new file at the path is read
//    (from offset 0); the old file stays open rotate_wait after its last growth for writers that
//    have not reopened yet, then its partial last line, if any, is handed out and it is closed;
//  - deleted files are read to their end and closed at once (no descriptor on a deleted file);
//  - copytruncate: a file shrinking below the read offset is read again from 0; bytes known to
//    exist but not read (or a partial line) are reported as a TailGap{truncated}. A truncation
//    followed by more than the old offset of new bytes before the tailer looks is caught only
//    when the byte before the read offset changed (every read re-reads that byte);
//  - restarts: cursors() gives, per open file, the offset after the last record handed out;
//    restore() resumes each file whose (device, inode, head hash) match. A cursor whose file is
//    gone gets a TailGap{rotated_away or deleted, bytes 0 = unknown}. Rotated files are not
//    searched for under other names (a file renamed while the agent was stopped is found again
//    only when a glob matches its new name).
//  - globs that also match rotated names (app.log*): a rotated file still open is followed
//    under its new name rather than read twice, and one closed earlier in this run is resumed
//    where it ended; after a restart, a rotated file closed before the stop is read again from
//    its start (only open files have cursors). Prefer globs that match live names only.
// Records: text is valid UTF-8 (invalid sequences → U+FFFD, NUL bytes dropped, a trailing '\r'
// dropped); empty lines are skipped; see record_reader.hpp for multi-line and length rules.
//
// Loop thread only. Callbacks run on the loop thread, must not throw, and may call cursors(),
// stats() and stop(), but must not destroy the tailer.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "agent/tail/tail_types.hpp"
#include "shared/error.hpp"

typedef struct uv_loop_s uv_loop_t; // NOLINT: matches <uv.h>

namespace medic::agent::tail {

struct TailCallbacks {
  std::function<void(const TailRecord&)> on_record;
  std::function<void(const TailGap&)> on_gap;
  // Optional: the bytes of each read, just before the records that end in them are handed out,
  // and an empty view just after. Most records' text is a view into these bytes (a whole line,
  // clean UTF-8, no '\r' dropped: followed there by its '\n'), so whatever is done per record
  // can be prepared for the whole chunk at once.
  std::function<void(std::string_view bytes)> on_chunk;
};

class TailerCore;

class Tailer {
public:
  // Validates the options (see validate()) and compiles the continuation patterns.
  [[nodiscard]] static Result<std::unique_ptr<Tailer>> create(uv_loop_t& loop,
                                                              TailerOptions options,
                                                              TailCallbacks callbacks);
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;
  // Stops if still running. Requests still in the threadpool clean up after themselves when
  // they complete, so destroying a stopped tailer right away is safe; the loop must still run
  // once more for the close callbacks.
  ~Tailer();

  // Before start(): where to resume. Cursors beyond 4 x max_files are ignored (logged).
  [[nodiscard]] Result<void> restore(std::span<const TailCursor> cursors);
  // Starts the first glob, the timer and the watches. Fails when called twice.
  [[nodiscard]] Result<void> start();
  // No callback runs after stop() returns. Pending partial lines and multi-line records are
  // not handed out: cursors() still points before them, so they are read again after a restart.
  void stop() noexcept;
  // The periodic work (poll, idle flush, glob) when options.external_tick is set; otherwise the
  // tailer's own timer calls it. Loop thread.
  void tick() noexcept;
  // True once stopped and no request is left in the threadpool.
  [[nodiscard]] bool is_stopped() const noexcept;

  // One cursor per open file, plus restored cursors not matched to a file yet.
  [[nodiscard]] std::vector<TailCursor> cursors() const;
  [[nodiscard]] const TailStats& stats() const noexcept;

private:
  explicit Tailer(std::unique_ptr<TailerCore> core);
  std::unique_ptr<TailerCore> m_core;
};

} // namespace medic::agent::tail
