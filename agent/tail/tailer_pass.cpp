// SPDX-License-Identifier: Apache-2.0
// I/O passes: the queued files' next calls gathered into one batch, run in order (on the loop when
// none of them can block, else by a threadpool worker), and handed back file by file on the loop.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>

#include "agent/tail/tailer_core.hpp"

namespace medic::agent::tail {

namespace {

// A read with RWF_NOWAIT stops at the first page that is not in the page cache (EAGAIN when that
// is the first one). A short read ending on a page boundary may have stopped there rather than
// at the end of the file: the threadpool reads it again. (Folios, huge pages included, are whole
// pages, so their boundaries are multiples of this on every page size Linux has.)
constexpr std::uint64_t k_page_bytes = 4096;

void fill_info(const struct stat& st, uv_stat_t& info) noexcept {
  info = uv_stat_t{};
  info.st_dev = st.st_dev;
  info.st_ino = st.st_ino;
  info.st_mode = st.st_mode;
  info.st_nlink = st.st_nlink;
  info.st_size = static_cast<std::uint64_t>(st.st_size);
}

// Whether the file's next calls include a read into the pass buffer (see next_requests).
bool reads_buffer(const TailedFile& file) noexcept {
  if (file.want_close && file.fd >= 0) {
    return false;
  }
  if (file.phase == Phase::probing_tail) {
    return true;
  }
  return file.phase == Phase::following && !file.blocked &&
         (file.draining || file.want_read || file.reader->position() < file.observed_size);
}

// Following, read to the end it knows of, and wanting nothing but another read.
bool caught_up(const TailedFile& file) noexcept {
  return file.phase == Phase::following && !file.draining && !file.want_close && !file.want_fstat &&
         !file.want_stat && !file.blocked && file.reader->position() >= file.observed_size;
}

ssize_t errno_result(ssize_t rc) noexcept {
  return rc < 0 ? -static_cast<ssize_t>(errno) : rc;
}

// flags: 0 in the threadpool; RWF_NOWAIT on the loop (EAGAIN rather than wait for the disk).
ssize_t read_at(int fd, char* into, std::size_t capacity, std::uint64_t offset,
                int flags = 0) noexcept {
  iovec part{into, capacity};
  ssize_t rc = 0;
  do {
    rc = ::preadv2(fd, &part, 1, static_cast<off_t>(offset), flags);
  } while (rc < 0 && errno == EINTR);
  return errno_result(rc);
}

// O_NONBLOCK: a FIFO matched by a glob must not block the threadpool in open(2). O_NOATIME: a
// log file is written between two reads, so under relatime every read would update its atime
// and dirty the inode (a journal write per read pass); it needs the file's owner or
// CAP_FOWNER, so without either (EPERM) the file is opened without it.
ssize_t open_for_reading(const char* path) noexcept {
  constexpr int k_flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  int fd = ::open(path, k_flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) {
    fd = ::open(path, k_flags);
  }
  return errno_result(fd);
}

void run_op(PassOp& op, char* buffer, std::size_t& used) noexcept {
  struct stat st {};
  switch (op.request) {
  case Request::open: op.result = open_for_reading(op.path.c_str()); break;
  case Request::fstat:
    op.result = errno_result(::fstat(op.fd, &st));
    fill_info(st, op.info);
    break;
  case Request::stat:
    op.result = errno_result(::stat(op.path.c_str(), &st));
    fill_info(st, op.info);
    break;
  case Request::read:
    if (op.into != nullptr) {
      op.result = read_at(op.fd, op.into, op.capacity, op.offset);
    } else {
      op.data_at = used;
      op.result = read_at(op.fd, buffer + used, op.capacity, op.offset);
      used += op.result > 0 ? static_cast<std::size_t>(op.result) : 0;
    }
    break;
  case Request::close: op.result = errno_result(::close(op.fd)); break;
  case Request::none: break;
  }
}

// Runs the call if it cannot block; false when it could (op.result says why for a read: the
// threadpool runs it again).
bool run_op_inline(PassOp& op, char* buffer, std::size_t& used) noexcept {
  switch (op.request) {
  case Request::fstat:
  case Request::close: run_op(op, buffer, used); return true;
  case Request::read: break;
  case Request::open:
  case Request::stat:
  case Request::none: return false;
  }
  char* into = op.into != nullptr ? op.into : buffer + used;
  op.result = read_at(op.fd, into, op.capacity, op.offset, RWF_NOWAIT);
  if (op.result < 0) {
    return false; // EAGAIN: not in the page cache; EOPNOTSUPP: no RWF_NOWAIT; other errors too
  }
  const auto size = static_cast<std::size_t>(op.result);
  if (size > 0 && size < op.capacity && (op.offset + size) % k_page_bytes == 0) {
    return false;
  }
  if (op.into == nullptr) {
    op.data_at = used;
    used += size;
  }
  return true;
}

void pass_work(uv_work_t* req) {
  run_pass(*static_cast<IoPass*>(req->data));
}

// Gives back the descriptors of a pass whose tailer is gone, and frees it.
void free_orphaned(IoPass* pass) noexcept {
  for (std::size_t i = 0; i < pass->op_count; ++i) {
    const PassOp& op = pass->ops[i];
    if (op.request == Request::open && op.result >= 0) {
      ::close(static_cast<int>(op.result));
    }
  }
  for (const auto& file : pass->orphans) {
    const bool closed = std::any_of(
        pass->ops.begin(), pass->ops.begin() + pass->op_count,
        [&](const PassOp& op) { return op.file == file.get() && op.request == Request::close; });
    if (!closed && file->fd >= 0) {
      ::close(file->fd);
    }
  }
  delete pass;
}

void pass_after(uv_work_t* req, int /*status*/) {
  auto* pass = static_cast<IoPass*>(req->data);
  if (pass->core == nullptr) {
    free_orphaned(pass);
    return;
  }
  pass->core->pass_done(*pass);
}

} // namespace

void run_pass(IoPass& pass) noexcept {
  PassProgress& at = pass.progress;
  for (; at.next < pass.op_count; ++at.next) {
    run_op(pass.ops[at.next], pass.buffer.get(), at.used);
  }
}

bool run_pass_inline(IoPass& pass) noexcept {
  PassProgress& at = pass.progress;
  for (; at.next < pass.op_count; ++at.next) {
    if (!run_op_inline(pass.ops[at.next], pass.buffer.get(), at.used)) {
      return false;
    }
  }
  return true;
}

void TailerCore::pump(bool may_run_inline) {
  if (m_pumping) {
    return;
  }
  m_pumping = true;
  bool ran_inline = false;
  bool deferred = false;
  while (!m_stopping && m_inflight < m_options.max_inflight && m_queue_size > 0 &&
         !m_free_passes.empty()) {
    IoPass& pass = *m_free_passes.back();
    pass.op_count = 0;
    pass.progress = PassProgress{};
    if (!fill_pass(pass)) {
      continue; // the files taken from the queue needed nothing
    }
    share_buffer(pass);
    // One pass on the loop per pump from outside: what it leaves to read (a full buffer) goes to
    // the threadpool, so a backlog never holds the loop for more than one read_chunk_bytes.
    if (may_run_inline && !ran_inline && inline_candidate(pass)) {
      ran_inline = true;
      if (run_pass_inline(pass)) {
        ++m_stats.io_passes;
        ++m_stats.inline_passes;
        deferred = complete(pass) || deferred;
        continue; // the pass stays free; files it left wanting more are queued
      }
      ++m_stats.inline_fallbacks;
      const PassOp& stopped = pass.ops[pass.progress.next];
      if (stopped.request == Request::read &&
          (stopped.result == -EOPNOTSUPP || stopped.result == -EINVAL)) {
        stopped.file->no_nowait = true; // do not try again on every pass
      }
    }
    if (const int rc = uv_queue_work(&m_loop, &pass.req, pass_work, pass_after); rc < 0) {
      warn(std::string("tail: cannot queue file system calls: ") + uv_strerror(rc));
      for (std::size_t i = 0; i < pass.op_count; ++i) {
        if (i < pass.progress.next) {
          track_descriptor(*pass.ops[i].file, pass.ops[i]); // a close that ran on the loop
        }
        pass.ops[i].file->in_flight = false;
        close_now(*pass.ops[i].file);
      }
      continue;
    }
    m_free_passes.pop_back();
    m_out_passes.push_back(&pass);
    ++m_inflight;
    ++m_stats.io_passes;
  }
  if (ran_inline && !m_stopping) {
    reap(); // files the pass closed
  }
  if (m_queue_size == 0 && m_deferred == 0 && m_coalesce != nullptr &&
      !(m_inotify && m_inotify->paused())) {
    uv_timer_stop(m_coalesce); // everything it was armed for is served
  }
  m_pumping = false;
  if (deferred && !m_stopping) {
    arm_coalesce();
  }
}

bool TailerCore::inline_candidate(const IoPass& pass) const noexcept {
  return std::all_of(pass.ops.begin(),
                     pass.ops.begin() + static_cast<std::ptrdiff_t>(pass.op_count),
                     [](const PassOp& op) {
                       switch (op.request) {
                       case Request::read: return !op.file->no_nowait;
                       case Request::fstat: return true;
                       case Request::close: return op.file->regular;
                       case Request::open:
                       case Request::stat:
                       case Request::none: return false;
                       }
                       return false;
                     });
}

bool TailerCore::fill_pass(IoPass& pass) {
  std::size_t files = 0;
  std::size_t reads = 0;
  while (m_queue_size > 0 && files < k_max_pass_files) {
    TailedFile& file = *m_queue[m_queue_head];
    const bool shares = reads_buffer(file);
    if (shares && reads == m_max_pass_reads) {
      break; // the buffer is shared out: it goes first in the next pass
    }
    m_queue_head = (m_queue_head + 1) % m_queue.size();
    --m_queue_size;
    file.queued = false;
    if (file.phase == Phase::closed) {
      continue;
    }
    std::array<Request, 3> requests{};
    const std::size_t count = next_requests(file, requests);
    if (count == 0) {
      continue;
    }
    add_ops(pass, file, std::span<const Request>(requests.data(), count));
    ++files;
    reads += shares ? 1 : 0;
  }
  return pass.op_count > 0;
}

std::size_t TailerCore::next_requests(TailedFile& file, std::array<Request, 3>& out) noexcept {
  if (file.want_close && file.fd >= 0) {
    file.want_close = false;
    out[0] = Request::close;
    return 1;
  }
  switch (file.phase) {
  case Phase::opening: out[0] = Request::open; return 1;
  case Phase::identifying: out[0] = Request::fstat; return 1;
  case Phase::probing_head:
  case Phase::probing_tail: out[0] = Request::read; return 1;
  case Phase::following: break;
  case Phase::closed: return 0;
  }
  std::size_t count = 0;
  if (file.want_fstat) {
    file.want_fstat = false;
    out[count++] = Request::fstat;
  }
  if (file.want_stat) {
    file.want_stat = false;
    if (file.slot != nullptr && file.slot->current == &file && !file.rotated) {
      out[count++] = Request::stat;
    }
  }
  if (!file.blocked &&
      (file.draining || file.want_read || file.reader->position() < file.observed_size)) {
    file.want_read = false;
    out[count++] = Request::read;
  }
  return count;
}

void TailerCore::add_ops(IoPass& pass, TailedFile& file, std::span<const Request> requests) {
  file.in_flight = true;
  for (const Request request : requests) {
    if (pass.op_count == pass.ops.size()) {
      pass.ops.emplace_back(); // grows to its working size once, then elements are reused
    }
    PassOp& op = pass.ops[pass.op_count++];
    op.file = &file;
    op.request = request;
    op.fd = file.fd;
    op.into = nullptr;
    op.result = 0;
    op.data_at = 0;
    if (request == Request::open || request == Request::stat) {
      op.path.assign(file.path);
    }
    if (request != Request::read) {
      continue;
    }
    op.seq = ++file.reads_issued;
    if (file.phase == Phase::probing_head) {
      op.into = file.head.data();
      op.offset = 0;
      op.capacity = std::min<std::uint64_t>(k_head_bytes, file.observed_size);
    } else if (file.phase == Phase::following) {
      op.position = file.reader->position();
      op.overlap = file.have_last_byte && op.position > 0;
      op.offset = op.position - (op.overlap ? 1 : 0);
    }
  }
}

// Shares the buffer out among the pass's reads (the head probe reads into the file itself).
void TailerCore::share_buffer(IoPass& pass) noexcept {
  std::size_t reads = 0;
  for (std::size_t i = 0; i < pass.op_count; ++i) {
    const PassOp& op = pass.ops[i];
    reads += op.request == Request::read && op.into == nullptr ? 1 : 0;
  }
  const std::size_t share = m_options.read_chunk_bytes / std::max<std::size_t>(1, reads);
  for (std::size_t i = 0; i < pass.op_count; ++i) {
    PassOp& op = pass.ops[i];
    if (op.request != Request::read || op.into != nullptr) {
      continue;
    }
    TailedFile& file = *op.file;
    if (file.phase == Phase::probing_tail) {
      const std::uint64_t window = std::min<std::uint64_t>(share, file.observed_size);
      file.probe_offset = file.observed_size - window;
      op.offset = file.probe_offset;
      op.capacity = window;
    } else {
      op.capacity = share + (op.overlap ? 1 : 0);
    }
  }
}

void TailerCore::pass_done(IoPass& pass) noexcept {
  std::erase(m_out_passes, &pass);
  m_free_passes.push_back(&pass);
  --m_inflight;
  const bool deferred = complete(pass);
  if (m_stopping) {
    return;
  }
  try {
    reap();
    pump(true);
    if (deferred) {
      arm_coalesce();
    }
  } catch (const std::exception& e) {
    warn(std::string("tail: after file system calls: ") + e.what());
  }
}

bool TailerCore::complete(IoPass& pass) noexcept {
  const bool was_pumping = m_pumping;
  m_pumping = true; // files are woken below; one pump at the end serves them all
  bool deferred = false;
  bool full_read = false; // of the current file: more is there to read at once
  for (std::size_t i = 0; i < pass.op_count; ++i) {
    const PassOp& op = pass.ops[i];
    TailedFile& file = *op.file;
    track_descriptor(file, op);
    full_read = full_read || (op.request == Request::read && op.into == nullptr && op.result > 0 &&
                              static_cast<std::size_t>(op.result) == op.capacity);
    // New bytes only: a following read starts one byte early (truncation check), so a read that
    // found nothing new still returns that byte.
    if (op.request == Request::read) {
      ++m_stats.reads;
    }
    if (const ssize_t fresh = op.result - (op.overlap ? 1 : 0);
        op.request == Request::read && fresh > 0) {
      note_read(static_cast<std::uint64_t>(fresh));
    }
    try {
      if (!m_stopping) {
        dispatch(file, op, pass.buffer.get() + op.data_at);
      }
    } catch (const std::exception& e) {
      warn(std::string("tail: ") + file.path + ": " + e.what());
    }
    if (i + 1 < pass.op_count && pass.ops[i + 1].file == &file) {
      continue; // the file's next call in this pass
    }
    file.in_flight = false;
    if (m_stopping) {
      close_now(file);
    } else if (file.poked && !full_read && caught_up(file)) {
      // Written to while this pass was out, but read to its end: the next read waits for the
      // coalescing timer (at most one read per read_interval), it does not go out at once.
      deferred = true;
    } else {
      if (file.poked) {
        file.poked = false; // served now, with what it needs at once
        m_deferred -= m_deferred > 0 ? 1 : 0;
      }
      enqueue(file);
    }
    full_read = false;
  }
  m_pumping = was_pumping;
  return deferred;
}

void TailerCore::track_descriptor(TailedFile& file, const PassOp& op) noexcept {
  if (op.request == Request::open && op.result >= 0) {
    file.fd = static_cast<uv_file>(op.result);
    ++m_stats.files_open;
  } else if (op.request == Request::close) {
    file.fd = -1;
    --m_stats.files_open;
  }
}

void TailerCore::dispatch(TailedFile& file, const PassOp& op, const char* data) {
  switch (op.request) {
  case Request::open: opened(file, op.result); break;
  case Request::fstat:
    if (file.phase == Phase::identifying) {
      identified(file, op.result, op.info);
    } else if (file.phase == Phase::following) {
      fstat_done(file, op.result, op.info);
    }
    break;
  case Request::stat: stat_done(file, op.result, op.info); break;
  case Request::read: dispatch_read(file, op, data); break;
  case Request::close: closed(file); break;
  case Request::none: break;
  }
}

void TailerCore::dispatch_read(TailedFile& file, const PassOp& op, const char* data) {
  if (file.phase == Phase::probing_head) {
    head_probed(file, op.result);
  } else if (file.phase == Phase::probing_tail) {
    tail_probed(file, data, op.result);
  } else if (file.phase == Phase::following && !file.want_close && file.fd == op.fd &&
             file.reader->position() == op.position) {
    file.read_seq = op.seq;
    read_done(file, op, data);
  } else if (file.phase == Phase::following) {
    file.want_read = true; // an earlier call of this pass moved the file: read again
  }
}

} // namespace medic::agent::tail
