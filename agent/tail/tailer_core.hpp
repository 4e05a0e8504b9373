// SPDX-License-Identifier: Apache-2.0
// The tailer's machinery, private to agent/tail: path slots (one per globbed path), tailed files
// (one per open descriptor, a path may have a rotated predecessor still open), the request
// scheduler, the glob job, the directory watches and the tick timer.
//
// Every file system call is a libuv request on the threadpool. A file has at most one request in
// flight; files wanting one wait in a FIFO and at most max_inflight requests run at once, so
// files take turns chunk by chunk. A completion runs on the loop and decides the file's next
// request. Loop thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "agent/tail/glob_scan.hpp"
#include "agent/tail/record_reader.hpp"
#include "agent/tail/tail_types.hpp"
#include "agent/tail/tailer.hpp"
#include "shared/log/logging.hpp"

namespace re2 {
class RE2;
}

namespace medic::agent::tail {

// Bytes at the head of a file hashed into TailCursor::head_hash.
constexpr std::size_t k_head_bytes = 1024;

// FNV-1a 64 of `bytes`.
[[nodiscard]] std::uint64_t head_hash(std::string_view bytes) noexcept;

class TailerCore;
struct TailedFile;

struct CompiledSource {
  const TailSource* source = nullptr; // points into TailerCore::m_options
  std::unique_ptr<re2::RE2> continuation;
  bool has_history = false; // a restored cursor's path matches one of its globs
};

// inotify on one directory, for every slot whose path is in it. Heap-allocated: freed by its
// close callback, so it may outlive the tailer by one loop turn.
struct DirWatch {
  uv_fs_event_t handle{};
  TailerCore* core = nullptr;
  std::string dir;
  std::size_t users = 0;
};

struct PathSlot {
  std::string path;
  std::string name; // the last component, as inotify reports it
  std::size_t source = 0;
  DirWatch* watch = nullptr;         // null: poll only
  TailedFile* current = nullptr;     // the file at the path (or being opened)
  TailedFile* predecessor = nullptr; // rotated away from the path, still open
  bool initial = false;              // found by the first glob: start_at applies
  bool seen = true;                  // matched by the latest glob
  bool alias = false;                // the same file is open under another path
};

// One glob pass on the threadpool. Heap-allocated: freed by its after-work callback, which
// only reports to the core when the core still exists.
struct GlobJob {
  uv_work_t req{};
  TailerCore* core = nullptr;
  std::vector<GlobPattern> patterns;
  std::size_t limit = 0;
  GlobScan scan;
};

enum class Phase { opening, identifying, probing_head, probing_tail, following, closed };
enum class Request { none, open, fstat, stat, read, close };

struct KnownCursor {
  TailCursor cursor;
  bool restored = false; // from restore(); otherwise a rotated file closed in this run
};

struct TailedFile final : RecordSink {
  TailedFile(TailerCore& owner, PathSlot& at);
  void on_record(std::string_view text, std::uint64_t offset, std::uint64_t end_offset,
                 bool truncated) override;

  TailerCore* core; // null once orphaned: the tailer was destroyed while a request was out
  PathSlot* slot;   // set while slot->current or slot->predecessor is this file
  std::string path;
  std::size_t source;
  std::optional<RecordReader> reader; // created once the file is open
  uv_fs_t req{};
  Request request = Request::none;
  std::unique_ptr<char[]> buffer; // a pooled read buffer while a read is out
  Phase phase = Phase::opening;
  uv_file fd = -1;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t nlink = 1;
  std::uint64_t observed_size = 0; // largest size seen by fstat or reads
  std::array<char, k_head_bytes> head{};
  std::size_t head_size = 0;
  char last_byte = 0; // the byte before the read position, re-read to catch truncation
  bool have_last_byte = false;
  bool overlap = false; // the read in flight starts one byte early
  bool queued = false;
  bool in_flight = false;
  bool want_fstat = false;
  bool want_stat = false;
  bool want_close = false;
  bool draining = false; // read until a read returns nothing
  bool rotated = false;  // renamed or deleted away from its path
  bool deleted = false;  // nlink 0
  bool expired = false;  // rotate_wait is over: finish and close
  bool blocked = false;  // waits for its predecessor to be read to its end
  std::uint64_t reads_issued = 0;
  std::uint64_t read_seq = 0;        // of the read in flight
  std::uint64_t fresh_eof_after = 0; // a drain pass must end with a read issued after this
  std::int64_t last_growth_ms = 0;
  std::optional<KnownCursor> resume; // cursor found for this inode, checked against the head
  bool start_at_end = false;
  std::uint64_t probe_offset = 0; // where the tail probe read starts
};

class TailerCore {
public:
  TailerCore(uv_loop_t& loop, TailerOptions options, TailCallbacks callbacks,
             std::vector<CompiledSource> sources);
  TailerCore(const TailerCore&) = delete;
  TailerCore& operator=(const TailerCore&) = delete;
  ~TailerCore();

  [[nodiscard]] Result<void> restore(std::span<const TailCursor> cursors);
  [[nodiscard]] Result<void> start();
  void stop() noexcept;
  [[nodiscard]] bool is_stopped() const noexcept {
    return m_stopping && m_inflight == 0 && m_glob_job == nullptr;
  }
  [[nodiscard]] std::vector<TailCursor> cursors() const;
  [[nodiscard]] const TailStats& stats() const noexcept { return m_stats; }

  // For TailedFile and the libuv callbacks.
  void hand_out(TailedFile& file, std::string_view text, std::uint64_t offset,
                std::uint64_t end_offset, bool truncated);
  void complete(TailedFile& file) noexcept;
  void glob_done(std::vector<GlobHit> hits, std::size_t excess) noexcept;
  void dir_event(DirWatch& watch, const char* name, int events) noexcept;
  void tick() noexcept;

private:
  // tailer_core.cpp: scheduling and bookkeeping.
  void dispatch(TailedFile& file, Request request, ssize_t result, const uv_stat_t& info);
  void wake(TailedFile& file);
  void pump();
  [[nodiscard]] Request next_request(TailedFile& file) noexcept;
  [[nodiscard]] bool issue(TailedFile& file, Request request);
  [[nodiscard]] int issue_read(TailedFile& file);
  // Closes the descriptor with close(2) on the loop (only at stop and after a failed request).
  void close_now(TailedFile& file) noexcept;
  // Frees closed files that no request or queue entry refers to.
  void reap();

  // tailer_files.cpp: what completions mean for a file.
  void opened(TailedFile& file, ssize_t result);
  void identified(TailedFile& file, ssize_t result, const uv_stat_t& info);
  void head_probed(TailedFile& file, ssize_t result);
  void tail_probed(TailedFile& file, ssize_t result);
  void fstat_done(TailedFile& file, ssize_t result, const uv_stat_t& info);
  void stat_done(TailedFile& file, ssize_t result, const uv_stat_t& info);
  void read_done(TailedFile& file, ssize_t result);
  void read_failed(TailedFile& file, ssize_t result);
  void closed(TailedFile& file);
  void begin_following(TailedFile& file, std::uint64_t offset, FirstLine first_line);
  void truncated(TailedFile& file, std::optional<std::uint64_t> new_size);
  void detach(TailedFile& file);
  void drained(TailedFile& file);
  void finish_and_close(TailedFile& file);
  [[nodiscard]] bool take_duplicate(TailedFile& file);
  void block_behind_predecessor(TailedFile& file);
  void unblock_successor(PathSlot& slot);
  void remember_closed(const TailedFile& file);
  // Clears the file's slot links; a successor waiting on it may go on.
  void unlink(TailedFile& file);

  // tailer_paths.cpp: globs, slots, watches, cursors, the tick.
  void poll_all();
  [[nodiscard]] std::int64_t now_ms() const noexcept;
  void gap(std::size_t source, std::string_view path, std::uint64_t offset, std::uint64_t bytes,
           GapReason reason);
  void warn(const std::string& message);
  void start_glob();
  void resolve_restored(const std::vector<GlobHit>& hits);
  [[nodiscard]] std::optional<KnownCursor> take_known(std::uint64_t device, std::uint64_t inode);
  [[nodiscard]] std::optional<std::size_t> source_of(std::string_view path) const;
  void add_slot(const GlobHit& hit, bool initial);
  void sweep_slots();
  void open_slot(PathSlot& slot);
  [[nodiscard]] DirWatch* watch_dir(const std::string& dir);
  void unwatch(DirWatch* watch) noexcept;
  void unwatch_now(DirWatch* watch) noexcept;
  // Renamed-away files are not at a watched name: an unknown name changing may be one of them.
  void wake_rotated();
  void report_skipped(std::size_t skipped);

  friend struct TailedFile;

  uv_loop_t& m_loop;
  TailerOptions m_options;
  TailCallbacks m_callbacks;
  std::vector<CompiledSource> m_sources;
  TailStats m_stats;
  log::RateLimiter m_log_limit{5, 60'000};

  std::vector<std::unique_ptr<PathSlot>> m_slots;
  std::vector<std::unique_ptr<TailedFile>> m_files;
  std::vector<DirWatch*> m_watches;
  std::vector<KnownCursor> m_known;
  std::vector<TailCursor> m_final_cursors; // taken at stop()

  // FIFO of files waiting for a request slot; each file at most once, so 2 x max_files + 1.
  std::vector<TailedFile*> m_queue;
  std::size_t m_queue_head = 0;
  std::size_t m_queue_size = 0;
  std::vector<std::unique_ptr<char[]>> m_free_buffers; // max_inflight read buffers
  std::unique_ptr<char[]> m_scratch;                   // UTF-8 repair, shared by the readers
  std::size_t m_inflight = 0;
  bool m_pumping = false;

  uv_timer_t* m_timer = nullptr; // heap: freed by its close callback
  GlobJob* m_glob_job = nullptr; // counted apart from m_inflight
  bool m_glob_requested = false;
  bool m_first_glob_done = false;
  std::int64_t m_last_glob_ms = 0;
  std::int64_t m_last_poll_ms = 0;
  std::size_t m_reported_skipped = 0;
  bool m_started = false;
  bool m_stopping = false;
};

} // namespace medic::agent::tail
