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
constexpr std::size_t k_restore_factor = 4;

// The request's file, or (once the tailer is gone) cleans up after it.
void on_fs_done(uv_fs_t* req) {
  auto* file = static_cast<TailedFile*>(req->data);
  if (file->core != nullptr) {
    file->core->complete(*file);
    return;
  }
  // Orphaned: nothing may be reported any more; only give the descriptor back.
  if (file->request == Request::open && req->result >= 0) {
    ::close(static_cast<int>(req->result));
  } else if (file->request != Request::close && file->fd >= 0) {
    ::close(file->fd);
  }
  uv_fs_req_cleanup(req);
  delete file;
}

void on_tick(uv_timer_t* timer) {
  static_cast<TailerCore*>(timer->data)->tick();
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
    : core(&owner), slot(&at), path(at.path), source(at.source) {
  req.data = this;
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
  for (std::size_t i = 0; i < m_options.max_inflight; ++i) {
    // One extra byte: a read starts one byte early to check the byte before its offset.
    m_free_buffers.emplace_back(new char[m_options.read_chunk_bytes + 1]);
  }
  m_queue.resize(2 * m_options.max_files + 1, nullptr);
}

TailerCore::~TailerCore() {
  stop();
  for (auto& file : m_files) {
    if (file->in_flight) {
      file->core = nullptr;
      (void)file.release(); // on_fs_done frees it
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
  m_timer = new uv_timer_t{};
  uv_timer_init(&m_loop, m_timer);
  m_timer->data = this;
  uv_timer_start(m_timer, on_tick, period, period);
  m_last_poll_ms = now_ms();
  start_glob();
  return {};
}

void TailerCore::stop() noexcept {
  if (m_stopping) {
    return;
  }
  m_final_cursors = cursors(); // what cursors() answers from now on
  m_stopping = true;
  if (m_timer != nullptr) {
    uv_timer_stop(m_timer);
    uv_close(reinterpret_cast<uv_handle_t*>(m_timer),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    m_timer = nullptr;
  }
  for (DirWatch* watch : m_watches) {
    watch->users = 1;
    unwatch_now(watch);
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

void TailerCore::complete(TailedFile& file) noexcept {
  const Request request = file.request;
  const auto result = static_cast<ssize_t>(file.req.result);
  const uv_stat_t info = file.req.statbuf;
  uv_fs_req_cleanup(&file.req);
  file.request = Request::none;
  if (request == Request::open && result >= 0) {
    file.fd = static_cast<uv_file>(result);
    ++m_stats.files_open;
  } else if (request == Request::close) {
    file.fd = -1;
    --m_stats.files_open;
  }
  try {
    if (!m_stopping) {
      dispatch(file, request, result, info);
    }
  } catch (const std::exception& e) {
    warn(std::string("tail: ") + file.path + ": " + e.what());
  }
  file.in_flight = false;
  --m_inflight;
  if (file.buffer) {
    m_free_buffers.push_back(std::move(file.buffer));
  }
  if (m_stopping) {
    close_now(file);
    return;
  }
  wake(file);
  reap();
  pump();
}

void TailerCore::dispatch(TailedFile& file, Request request, ssize_t result,
                          const uv_stat_t& info) {
  switch (request) {
  case Request::open: opened(file, result); break;
  case Request::fstat:
    if (file.phase == Phase::identifying) {
      identified(file, result, info);
    } else {
      fstat_done(file, result, info);
    }
    break;
  case Request::stat: stat_done(file, result, info); break;
  case Request::read:
    if (file.phase == Phase::probing_head) {
      head_probed(file, result);
    } else if (file.phase == Phase::probing_tail) {
      tail_probed(file, result);
    } else {
      read_done(file, result);
    }
    break;
  case Request::close: closed(file); break;
  case Request::none: break;
  }
}

void TailerCore::wake(TailedFile& file) {
  if (file.queued || file.in_flight || file.phase == Phase::closed || m_stopping) {
    return;
  }
  file.queued = true;
  m_queue[(m_queue_head + m_queue_size) % m_queue.size()] = &file;
  ++m_queue_size;
  pump();
}

void TailerCore::pump() {
  if (m_pumping) {
    return;
  }
  m_pumping = true;
  while (!m_stopping && m_inflight < m_options.max_inflight && m_queue_size > 0) {
    TailedFile& file = *m_queue[m_queue_head];
    m_queue_head = (m_queue_head + 1) % m_queue.size();
    --m_queue_size;
    file.queued = false;
    if (file.phase == Phase::closed) {
      continue;
    }
    const Request request = next_request(file);
    if (request != Request::none && issue(file, request)) {
      ++m_inflight;
    }
  }
  m_pumping = false;
}

Request TailerCore::next_request(TailedFile& file) noexcept {
  if (file.want_close && file.fd >= 0) {
    return Request::close;
  }
  switch (file.phase) {
  case Phase::opening: return Request::open;
  case Phase::identifying: return Request::fstat;
  case Phase::probing_head:
  case Phase::probing_tail: return Request::read;
  case Phase::following: break;
  case Phase::closed: return Request::none;
  }
  if (file.want_fstat) {
    return Request::fstat;
  }
  if (file.want_stat) {
    if (file.slot != nullptr && file.slot->current == &file && !file.rotated) {
      return Request::stat;
    }
    file.want_stat = false;
  }
  if (!file.blocked && (file.draining || file.reader->position() < file.observed_size)) {
    return Request::read;
  }
  return Request::none;
}

bool TailerCore::issue(TailedFile& file, Request request) {
  file.request = request;
  file.in_flight = true;
  int rc = 0;
  switch (request) {
  case Request::open:
    // O_NONBLOCK: a FIFO matched by a glob must not block the threadpool in open(2).
    rc = uv_fs_open(&m_loop, &file.req, file.path.c_str(),
                    O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0, on_fs_done);
    break;
  case Request::fstat:
    file.want_fstat = false;
    rc = uv_fs_fstat(&m_loop, &file.req, file.fd, on_fs_done);
    break;
  case Request::stat:
    file.want_stat = false;
    rc = uv_fs_stat(&m_loop, &file.req, file.path.c_str(), on_fs_done);
    break;
  case Request::read: rc = issue_read(file); break;
  case Request::close:
    file.want_close = false;
    rc = uv_fs_close(&m_loop, &file.req, file.fd, on_fs_done);
    break;
  case Request::none: break;
  }
  if (rc < 0) {
    file.in_flight = false;
    file.request = Request::none;
    if (file.buffer) {
      m_free_buffers.push_back(std::move(file.buffer));
    }
    warn("tail: " + file.path + ": cannot queue a file request: " + uv_strerror(rc));
    close_now(file);
    return false;
  }
  return true;
}

int TailerCore::issue_read(TailedFile& file) {
  std::int64_t offset = 0;
  uv_buf_t buf{};
  if (file.phase == Phase::probing_head) {
    const auto size = std::min<std::uint64_t>(k_head_bytes, file.observed_size);
    buf = uv_buf_init(file.head.data(), static_cast<unsigned int>(size));
  } else {
    file.buffer = std::move(m_free_buffers.back());
    m_free_buffers.pop_back();
    const std::uint64_t chunk = m_options.read_chunk_bytes;
    if (file.phase == Phase::probing_tail) {
      const std::uint64_t window = std::min(chunk, file.observed_size);
      file.probe_offset = file.observed_size - window;
      offset = static_cast<std::int64_t>(file.probe_offset);
      buf = uv_buf_init(file.buffer.get(), static_cast<unsigned int>(window));
    } else {
      const std::uint64_t position = file.reader->position();
      file.overlap = file.have_last_byte && position > 0;
      offset = static_cast<std::int64_t>(position - (file.overlap ? 1 : 0));
      buf = uv_buf_init(file.buffer.get(), static_cast<unsigned int>(chunk + 1));
    }
  }
  file.read_seq = ++file.reads_issued;
  return uv_fs_read(&m_loop, &file.req, file.fd, &buf, 1, offset, on_fs_done);
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
