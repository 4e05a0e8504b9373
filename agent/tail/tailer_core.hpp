// SPDX-License-Identifier: Apache-2.0
// The tailer's machinery, private to agent/tail: path slots (one per globbed path), tailed files
// (one per open descriptor, a path may have a rotated predecessor still open), the I/O passes,
// the glob job, the directory watches and the timers.
//
// File system calls run inside I/O passes: one batch that runs the calls of many files in order
// (tailer_pass.cpp). A pass whose calls cannot block (reads with RWF_NOWAIT, fstat and close of
// open descriptors) runs on the loop; one that opens or stats a path, or whose read would wait
// for the disk, goes to libuv's threadpool (from that call on). A file is in at most one pass at a
// time; files wanting calls wait in a FIFO, at most max_inflight passes are out at once, and a
// pass's read buffer is shared out among its files, so files take turns chunk by chunk. A
// completion runs on the loop and decides each file's next calls. What inotify and the poll
// report only marks files and arms the coalescing timer: every file that changed within
// read_interval is served by one pass, not by a round trip per write. Loop thread only.
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
#include "agent/tail/inotify_watch.hpp"
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
// A pass shares its read buffer (read_chunk_bytes) among at most chunk / k_min_read_share reads.
constexpr std::size_t k_min_read_share = 4096;
// Files in one pass; the rest wait for the next.
constexpr std::size_t k_max_pass_files = 32;

// FNV-1a 64 of `bytes`.
[[nodiscard]] std::uint64_t head_hash(std::string_view bytes) noexcept;

class TailerCore;
struct TailedFile;

struct CompiledSource {
  const TailSource* source = nullptr; // points into TailerCore::m_options
  std::unique_ptr<re2::RE2> continuation;
  bool has_history = false; // a restored cursor's path matches one of its globs
};

// A watched directory: the inotify watch for every slot whose path is in it.
struct DirWatch {
  int wd = -1;
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

// One call of an I/O pass: set up on the loop, run by the worker, its result handed back to the
// file on the loop. Ops of one file are adjacent in a pass and run in order.
struct PassOp {
  TailedFile* file = nullptr;
  Request request = Request::none;
  int fd = -1;
  std::string path;           // open, stat: copied, the file's path may change meanwhile
  char* into = nullptr;       // read: the head probe's destination, else the pass buffer
  std::uint64_t offset = 0;   // read: where in the file
  std::size_t capacity = 0;   // read: bytes asked for
  std::uint64_t position = 0; // following read: the reader's position when issued
  std::uint64_t seq = 0;      // read: the file's read number
  bool overlap = false;       // following read: starts one byte before `position`
  ssize_t result = 0;         // -errno on failure (libuv's UV_E* values on Linux)
  uv_stat_t info{};           // fstat, stat
  std::size_t data_at = 0;    // read into the pass buffer: where its bytes start
};

// How far a pass has run: calls before `next` are done, and `used` bytes of the buffer hold
// their reads. A pass started on the loop resumes in the threadpool from where it had to stop.
struct PassProgress {
  std::size_t next = 0;
  std::size_t used = 0;
};

// One batch of calls, run on the loop or sent to the threadpool. Pooled (max_inflight of them,
// allocated at start-up); one whose tailer is destroyed while it is out takes over its files and
// frees everything itself.
struct IoPass {
  uv_work_t req{};
  TailerCore* core = nullptr;
  std::vector<PassOp> ops; // the first op_count are this pass's; elements are reused
  std::size_t op_count = 0;
  PassProgress progress;
  std::unique_ptr<char[]> buffer; // reads land here, packed
  std::size_t buffer_size = 0;
  std::vector<std::unique_ptr<TailedFile>> orphans;
};

// Runs a pass's calls from pass.progress on (threadpool thread; touches nothing but the pass and
// the head buffers).
void run_pass(IoPass& pass) noexcept;
// Runs a pass's calls on the loop while none of them can block: reads with RWF_NOWAIT, fstat and
// close. Stops at the first call that could (an open or stat by path, a read of bytes not in the
// page cache, a file without RWF_NOWAIT support) with pass.progress at that call; true when
// every call ran.
[[nodiscard]] bool run_pass_inline(IoPass& pass) noexcept;

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
  Phase phase = Phase::opening;
  uv_file fd = -1;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t nlink = 1;
  bool regular = false;   // identified as a regular file: closing it cannot block
  bool no_nowait = false; // reads with RWF_NOWAIT are not supported: its reads go to the pool
  std::uint64_t observed_size = 0; // largest size seen by fstat or reads
  std::array<char, k_head_bytes> head{};
  std::size_t head_size = 0;
  // head_hash() of the first `bytes` of the head, kept until head_changed(): cursors are asked
  // for at every flush, and hashing 1 KiB per file each time showed in profiles.
  [[nodiscard]] std::uint64_t hashed_head(std::size_t bytes) const noexcept;
  void head_changed() noexcept { hashed_bytes = SIZE_MAX; }
  mutable std::uint64_t hashed_value = 0;
  mutable std::size_t hashed_bytes = SIZE_MAX;
  char last_byte = 0; // the byte before the read position, re-read to catch truncation
  bool have_last_byte = false;
  bool queued = false;
  bool in_flight = false; // in a pass
  bool poked = false;     // reported changed: queued when the coalescing timer fires
  bool want_fstat = false;
  bool want_stat = false;
  bool want_read = false; // bytes may have been appended (inotify, or the last read was full)
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
  std::int64_t at_end_ms = -1; // loop time of the last read that reached the end (a short read)
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
  void pass_done(IoPass& pass) noexcept;
  void coalesce_due() noexcept;
  void glob_done(std::vector<GlobHit> hits, std::size_t excess) noexcept;
  void dir_event(DirWatch& watch, const char* name, int events) noexcept;
  void inotify_event(const InotifyEvent& event) noexcept;
  void inotify_overflow() noexcept;
  void tick() noexcept;

private:
  // tailer_core.cpp: life cycle and bookkeeping.
  // Queues the file and serves it now (its state machine moves on).
  void wake(TailedFile& file);
  // Marks the file; the coalescing timer queues it with whatever else changed within
  // read_interval (nothing else that pumps serves it earlier).
  void poke(TailedFile& file);
  // Queues the file for the caller's pump, or pokes it if a pass has it (served when that comes
  // back).
  void serve(TailedFile& file);
  // Arms the coalescing timer, unless it is armed: serves poked files, resumes inotify if an
  // event paused it.
  void arm_coalesce() noexcept;
  [[nodiscard]] bool coalesce_armed() const noexcept;
  // A file created, deleted or renamed: serves what waits for the coalescing timer in the next
  // loop turn (the path may hold another file already, and may lose it again within an interval).
  void serve_soon() noexcept;
  // Counts bytes read (see m_read_in_window).
  void note_read(std::uint64_t bytes) noexcept;
  void enqueue(TailedFile& file) noexcept;
  // Closes the descriptor with close(2) on the loop (only at stop and after a failed request).
  void close_now(TailedFile& file) noexcept;
  // Frees closed files that no pass or queue entry refers to.
  void reap();

  // tailer_pass.cpp: building, issuing and completing passes.
  // Builds passes from the queue and sends them out. `may_run_inline`: the caller holds no file
  // and may see callbacks run, so one pass (at most) may run and complete on the loop right here;
  // every other call only issues passes to the threadpool.
  void pump(bool may_run_inline = false);
  // Whether every call of the pass may run on the loop (see run_pass_inline).
  [[nodiscard]] bool inline_candidate(const IoPass& pass) const noexcept;
  // Hands a pass's results to its files (the pass is back from the pool or ran on the loop);
  // true when a file written to meanwhile waits for the coalescing timer.
  [[nodiscard]] bool complete(IoPass& pass) noexcept;
  // The calls the file needs next, in order; clears the wants they serve.
  [[nodiscard]] std::size_t next_requests(TailedFile& file, std::array<Request, 3>& out) noexcept;
  // Adds the queued files' calls to the pass while they fit; false when none was added.
  [[nodiscard]] bool fill_pass(IoPass& pass);
  void add_ops(IoPass& pass, TailedFile& file, std::span<const Request> requests);
  void share_buffer(IoPass& pass) noexcept;
  // The file's descriptor as an open or close in a pass left it.
  void track_descriptor(TailedFile& file, const PassOp& op) noexcept;
  void dispatch(TailedFile& file, const PassOp& op, const char* data);
  void dispatch_read(TailedFile& file, const PassOp& op, const char* data);

  // tailer_files.cpp: what completions mean for a file.
  void opened(TailedFile& file, ssize_t result);
  void identified(TailedFile& file, ssize_t result, const uv_stat_t& info);
  void head_probed(TailedFile& file, ssize_t result);
  void tail_probed(TailedFile& file, const char* window, ssize_t result);
  void fstat_done(TailedFile& file, ssize_t result, const uv_stat_t& info);
  void stat_done(TailedFile& file, ssize_t result, const uv_stat_t& info);
  void read_done(TailedFile& file, const PassOp& op, const char* data);
  // New bytes at the reader's position: kept in the head if they are in its first KiB, then
  // handed to on_chunk and the reader.
  void consume(TailedFile& file, std::string_view bytes);
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
  // After a glob (tailer_paths.cpp): each followed file whose path it did not find holding that
  // same file is stat'ed by path.
  void check_paths(const std::vector<GlobHit>& hits);
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
  void start_inotify();
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
  std::unique_ptr<InotifyWatch> m_inotify; // null: poll only
  std::vector<std::unique_ptr<DirWatch>> m_watches;
  std::vector<KnownCursor> m_known;
  std::vector<TailCursor> m_final_cursors; // taken at stop()

  // FIFO of files waiting for a request slot; each file at most once, so 2 x max_files + 1.
  std::vector<TailedFile*> m_queue;
  std::size_t m_queue_head = 0;
  std::size_t m_queue_size = 0;
  std::vector<IoPass*> m_free_passes; // owned; max_inflight in all
  std::vector<IoPass*> m_out_passes;  // owned; in the threadpool
  std::unique_ptr<char[]> m_scratch;  // UTF-8 repair, shared by the readers
  std::size_t m_inflight = 0;         // passes out
  std::size_t m_max_pass_reads = 1;   // reads per pass: each gets >= k_min_read_share bytes
  bool m_pumping = false;
  // Of the last read that returned bytes: passes that serve changes are read_interval apart (a
  // pass that found nothing new does not count).
  std::int64_t m_last_read_ms = 0;
  std::size_t m_deferred = 0; // poked files (at least): the coalescing timer queues them

  uv_timer_t* m_timer = nullptr;        // heap: freed by its close callback
  uv_timer_t* m_coalesce = nullptr;     // one-shot: serves poked files
  std::int64_t m_coalesce_delay_ms = 0; // of m_coalesce, when it was last armed
  std::uint64_t m_inotify_events = 0;   // events handled
  bool m_settle_bursts = false;         // the first event after a quiet spell waits k_settle_ms
  // Bytes read since m_read_window_ms, a window of one read_interval: a writer this fast is
  // followed at once, without waiting for the interval.
  std::uint64_t m_read_in_window = 0;
  std::uint64_t m_read_in_last_window = 0; // the window before, if it ended within an interval
  std::int64_t m_read_window_ms = 0;
  GlobJob* m_glob_job = nullptr;        // counted apart from m_inflight
  bool m_glob_requested = false;
  bool m_first_glob_done = false;
  std::int64_t m_last_glob_ms = 0;
  std::int64_t m_last_poll_ms = 0;
  std::int64_t m_last_stat_ms = 0; // paths watched by inotify are stat'ed every stat_interval
  std::size_t m_reported_skipped = 0;
  bool m_started = false;
  bool m_stopping = false;
};

} // namespace medic::agent::tail
