// SPDX-License-Identifier: Apache-2.0
// Life cycle, scheduling and bookkeeping of the tailer; see tailer_files.cpp for what each
// completion means and tailer_paths.cpp for globs, slots and watches.
#include "agent/tail/tailer_core.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <exception>

#include <re2/re2.h>
#include <spdlog/spdlog.h>

namespace medic::agent::tail {

namespace {

constexpr std::uint64_t k_fnv_offset = 14695981039346656037ULL;
constexpr std::uint64_t k_fnv_prime = 1099511628211ULL;
constexpr std::int64_t k_min_tick_ms = 5;
constexpr std::int64_t k_max_tick_ms = 500;
// How long the first event of a burst waits for the rest, once bursts came in several reads.
constexpr std::int64_t k_settle_ms = 5;
// Read within one read_interval: at least this much, and a change is served at once, so a fast
// writer is followed without waiting (its bytes, not the wake-ups, are then the cost).
constexpr std::uint64_t k_busy_bytes = 256 * 1024;

void on_tick(uv_timer_t* timer) {
  static_cast<TailerCore*>(timer->data)->tick();
}

void on_coalesced(uv_timer_t* timer) {
  static_cast<TailerCore*>(timer->data)->coalesce_due();
}

uv_timer_t* new_timer(uv_loop_t& loop, TailerCore* core) {
  auto* timer = new uv_timer_t{};
  uv_timer_init(&loop, timer);
  timer->data = core;
  return timer;
}

void close_timer(uv_timer_t*& timer) noexcept {
  if (timer == nullptr) {
    return;
  }
  uv_timer_stop(timer);
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  timer = nullptr;
}

} // namespace

std::uint64_t head_hash(std::string_view bytes) noexcept {
  std::uint64_t hash = k_fnv_offset;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= k_fnv_prime;
  }
  return hash;
}

TailedFile::TailedFile(TailerCore& owner, PathSlot& at)
    : core(&owner), slot(&at), path(at.path), source(at.source) {}

std::uint64_t TailedFile::hashed_head(std::size_t bytes) const noexcept {
  if (bytes != hashed_bytes) {
    hashed_value = head_hash(std::string_view(head.data(), bytes));
    hashed_bytes = bytes;
  }
  return hashed_value;
}

void TailedFile::on_record(std::string_view text, std::uint64_t offset, std::uint64_t end_offset,
                           bool truncated) {
  core->hand_out(*this, text, offset, end_offset, truncated);
}

TailerCore::TailerCore(uv_loop_t& loop, TailerOptions options, TailCallbacks callbacks,
                       std::vector<CompiledSource> sources)
    : m_loop(loop),
      m_options(std::move(options)),
      m_callbacks(std::move(callbacks)),
      m_sources(std::move(sources)) {
  std::size_t scratch = 0;
  for (std::size_t i = 0; i < m_sources.size(); ++i) {
    m_sources[i].source = &m_options.sources[i];
    scratch = std::max(scratch, m_options.sources[i].max_record_bytes);
  }
  m_scratch.reset(new char[scratch + 1]);
  m_max_pass_reads =
      std::clamp<std::size_t>(m_options.read_chunk_bytes / k_min_read_share, 1, k_max_pass_files);
  for (std::size_t i = 0; i < m_options.max_inflight; ++i) {
    auto pass = std::make_unique<IoPass>();
    pass->core = this;
    pass->req.data = pass.get();
    // One extra byte per read: a read starts one byte early to check the byte before its offset.
    pass->buffer_size = m_options.read_chunk_bytes + m_max_pass_reads;
    pass->buffer.reset(new char[pass->buffer_size]);
    m_free_passes.push_back(pass.release());
  }
  m_queue.resize(2 * m_options.max_files + 1, nullptr);
}

TailerCore::~TailerCore() {
  stop();
  for (IoPass* pass : m_free_passes) {
    delete pass;
  }
  // Passes still out take their files over and free everything when they come back.
  for (IoPass* pass : m_out_passes) {
    pass->core = nullptr;
    for (std::size_t i = 0; i < pass->op_count; ++i) {
      TailedFile* file = pass->ops[i].file;
      const auto owned = std::find_if(m_files.begin(), m_files.end(),
                                      [&](const auto& f) { return f.get() == file; });
      if (owned != m_files.end()) {
        file->core = nullptr;
        pass->orphans.push_back(std::move(*owned));
        m_files.erase(owned);
      }
    }
  }
  if (m_glob_job != nullptr) {
    m_glob_job->core = nullptr;
  }
}

Result<void> TailerCore::start() {
  if (m_started) {
    return fail(ErrorCode::internal, "tail: start() called twice");
  }
  m_started = true;
  for (CompiledSource& source : m_sources) {
    source.has_history = std::any_of(m_known.begin(), m_known.end(), [&](const KnownCursor& k) {
      return std::any_of(
          source.source->globs.begin(), source.source->globs.end(),
          [&](const std::string& glob) { return glob_matches(glob, k.cursor.path); });
    });
  }
  const std::int64_t shortest =
      std::min(m_options.poll_interval.count(), m_options.idle_flush.count());
  const auto period =
      static_cast<std::uint64_t>(std::clamp(shortest / 2, k_min_tick_ms, k_max_tick_ms));
  if (!m_options.external_tick) {
    m_timer = new_timer(m_loop, this);
    uv_timer_start(m_timer, on_tick, period, period);
  }
  m_coalesce = new_timer(m_loop, this);
  start_inotify();
  m_last_poll_ms = now_ms();
  m_last_stat_ms = m_last_poll_ms;
  start_glob();
  return {};
}

void TailerCore::stop() noexcept {
  if (m_stopping) {
    return;
  }
  m_final_cursors = cursors(); // what cursors() answers from now on
  m_stopping = true;
  close_timer(m_timer);
  close_timer(m_coalesce);
  if (m_inotify) {
    m_inotify->close(); // safe even inside one of its handlers
  }
  m_watches.clear();
  for (auto& file : m_files) {
    file->queued = false;
    if (!file->in_flight) {
      close_now(*file);
    }
  }
  m_queue_size = 0;
}

void TailerCore::enqueue(TailedFile& file) noexcept {
  if (file.queued || file.in_flight || file.phase == Phase::closed || m_stopping) {
    return;
  }
  file.queued = true;
  m_queue[(m_queue_head + m_queue_size) % m_queue.size()] = &file;
  ++m_queue_size;
}

void TailerCore::wake(TailedFile& file) {
  enqueue(file);
  pump();
}

void TailerCore::serve(TailedFile& file) {
  if (file.in_flight) {
    poke(file); // served when its pass comes back
  } else {
    enqueue(file); // by the caller's pump: a timed pass already, nothing to coalesce
  }
}

void TailerCore::poke(TailedFile& file) {
  // Not queued yet: whatever pumps meanwhile (a completion, the tick, a glob) must not read it
  // before the timer fires. One in a pass is served when it comes back if it is behind.
  if (!file.poked && file.phase != Phase::closed && !m_stopping) {
    file.poked = true;
    ++m_deferred;
  }
  arm_coalesce();
}

bool TailerCore::coalesce_armed() const noexcept {
  return m_coalesce != nullptr && uv_is_active(reinterpret_cast<uv_handle_t*>(m_coalesce)) != 0;
}

void TailerCore::arm_coalesce() noexcept {
  if (m_stopping || m_coalesce == nullptr || coalesce_armed()) {
    return;
  }
  const std::int64_t interval = m_options.read_interval.count();
  const std::int64_t since = now_ms() - m_last_read_ms;
  // After a quiet spell the change is served in the next loop turn, without sleeping again: on
  // a virtual machine each wake-up costs tens of microseconds, and a burst of writes to several
  // files mostly arrives in the read of events that woke the loop (what comes later waits for
  // the interval). Within read_interval of the last pass, the rest of the interval.
  const std::int64_t settle = m_settle_bursts ? std::min(k_settle_ms, interval) : 0;
  const bool busy = std::max(m_read_in_window, m_read_in_last_window) >= k_busy_bytes &&
                    now_ms() - m_read_window_ms < std::max<std::int64_t>(interval, 1);
  m_coalesce_delay_ms = busy ? 0 : std::max<std::int64_t>(settle, interval - since);
  uv_timer_start(m_coalesce, on_coalesced, static_cast<std::uint64_t>(m_coalesce_delay_ms), 0);
}

void TailerCore::note_read(std::uint64_t bytes) noexcept {
  const std::int64_t now = now_ms();
  const std::int64_t interval = m_options.read_interval.count();
  if (now - m_read_window_ms >= interval) {
    // A new window: the one before still counts while it is recent (a window starts with one
    // read, usually small, and must not make a fast writer wait until it fills).
    m_read_in_last_window = now - m_read_window_ms < 2 * interval ? m_read_in_window : 0;
    m_read_window_ms = now;
    m_read_in_window = 0;
  }
  m_last_read_ms = now;
  const bool was_busy = m_read_in_window >= k_busy_bytes;
  m_read_in_window += bytes;
  if (!was_busy && m_read_in_window >= k_busy_bytes) {
    serve_soon(); // a fast writer: what waits for the interval is served in the next turn
  }
}

void TailerCore::serve_soon() noexcept {
  if (m_stopping || m_coalesce_delay_ms == 0 || !coalesce_armed()) {
    return;
  }
  m_coalesce_delay_ms = 0;
  uv_timer_start(m_coalesce, on_coalesced, 0, 0);
}

void TailerCore::coalesce_due() noexcept {
  try {
    // Written to while the watch was paused for (the rest of) an interval, not just a settle:
    // a steady writer.
    bool steady = false;
    const bool settled = m_coalesce_delay_ms <= k_settle_ms;
    if (m_inotify && m_inotify->paused()) {
      // What piled up while it was paused, served by the same pass. (Not paused: whatever came
      // woke the loop and was read already.) Nothing came during a settle: the writes of a burst
      // arrive in one read again, so read the next burst at once. (Nothing during an interval
      // says only that the writer paused.)
      const std::uint64_t events = m_inotify_events;
      m_inotify->drain();
      if (m_inotify_events == events) {
        m_settle_bursts = m_settle_bursts && !settled;
      } else {
        steady = !settled;
      }
    }
    if (m_deferred > 0) {
      m_deferred = 0;
      for (const auto& file : m_files) {
        if (file->poked && file->in_flight) {
          ++m_deferred; // see pass_done
        } else if (file->poked) {
          file->poked = false;
          enqueue(*file);
        }
      }
    }
    reap();
    if (m_inotify && !m_stopping) {
      // What the drain poked is queued (or waits for its pass to come back, which pumps again);
      // a pass run on the loop below arms the timer again for a file it leaves waiting.
      uv_timer_stop(m_coalesce);
      if (!steady) {
        m_inotify->resume();
      }
    }
    pump(true);
    if (steady && !m_stopping) {
      // Writes kept coming for a whole interval: stay paused and look again in one. A steady
      // writer then costs one wake-up per interval (the timer's), not two (the first write after
      // the pass, which would pause, and the timer).
      arm_coalesce();
    }
  } catch (const std::exception& e) {
    warn(std::string("tail: serving changed files: ") + e.what());
  }
}

void TailerCore::close_now(TailedFile& file) noexcept {
  if (file.fd >= 0) {
    ::close(file.fd); // read-only regular file: does not block
    file.fd = -1;
    --m_stats.files_open;
  }
  unlink(file);
  file.phase = Phase::closed;
}

void TailerCore::reap() {
  std::erase_if(m_files, [](const std::unique_ptr<TailedFile>& file) {
    return file->phase == Phase::closed && !file->in_flight && !file->queued;
  });
}

} // namespace medic::agent::tail
