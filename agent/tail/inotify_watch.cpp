// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/inotify_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include <uv.h>

#include "shared/uv/handle.hpp"

namespace medic::agent::tail {

namespace {

// Creations, deletions and renames in the directory, and the directory itself going.
constexpr std::uint32_t k_moves_mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                       IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t k_writes_mask = IN_MODIFY | IN_ONLYDIR;
// Room for many events per read(2): each is 16 bytes plus its name.
constexpr std::size_t k_read_bytes = 4096;
// A read that left this much room took every event queued: the kernel fills the buffer with
// whole events, the largest being the header and a NAME_MAX name with its NUL.
constexpr std::size_t k_max_event_bytes = sizeof(inotify_event) + NAME_MAX + 1;

// The write events of one read(2) already delivered: a file written five times since the last
// drain is one event for the tailer (its next pass reads all five writes), not five. Only the
// writes queue is deduplicated: a rename or a creation between two writes changes what the name
// means. Bounded: past k_seen_writes distinct names, the rest are delivered as they come.
class SeenWrites {
public:
  // True when this (descriptor, name) was delivered from this read(2) already; else remembers it.
  // The kernel pads a name with NULs to `len` bytes, so two names are equal when their lengths
  // and all `len` bytes are: no strlen, and the first 8 bytes (and the next 8) tell most apart.
  bool again(const inotify_event& event) noexcept {
    const std::uint64_t head = word_at(event, 0);
    const std::uint64_t next = word_at(event, 8);
    for (std::size_t i = 0; i < m_count; ++i) {
      const Seen& seen = m_seen[i];
      if (seen.wd == event.wd && seen.len == event.len && seen.head == head && seen.next == next &&
          (covered_by_words(event.len) || std::memcmp(seen.name, event.name, event.len) == 0)) {
        return true;
      }
    }
    if (m_count < m_seen.size()) {
      m_seen[m_count++] = Seen{event.wd, event.len, head, next, event.name};
    }
    return false;
  }
  void clear() noexcept { m_count = 0; }

private:
  // The two words hold every byte of a name this long (the kernel pads names to 16 bytes).
  static bool covered_by_words(std::uint32_t len) noexcept { return len % 8 == 0 && len <= 16; }
  static std::uint64_t word_at(const inotify_event& event, std::uint32_t at) noexcept {
    std::uint64_t word = 0;
    if (event.len >= at + 8) {
      std::memcpy(&word, event.name + at, 8);
    }
    return word;
  }

  static constexpr std::size_t k_seen_writes = 32;
  struct Seen {
    int wd = -1;
    std::uint32_t len = 0;
    std::uint64_t head = 0;
    std::uint64_t next = 0;
    const char* name = nullptr; // points into the read buffer, valid until the next read(2)
  };
  std::array<Seen, k_seen_writes> m_seen{};
  std::size_t m_count = 0;
};

void on_readable(uv_poll_t* poll, int status, int /*events*/) {
  if (status == 0) {
    int fd = -1;
    (void)uv_fileno(reinterpret_cast<uv_handle_t*>(poll), &fd);
    static_cast<InotifyWatch*>(poll->data)->readable(fd);
  }
}

} // namespace

int InotifyWatch::open_queue(uv_loop_t& loop, InotifyWatch* owner, Queue& queue) noexcept {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return -errno;
  }
  auto* poll = new (std::nothrow) uv_poll_t{};
  if (poll == nullptr) {
    ::close(fd);
    return -ENOMEM;
  }
  if (const int rc = uv_poll_init(&loop, poll, fd); rc < 0) {
    delete poll;
    ::close(fd);
    return rc;
  }
  poll->data = owner;
  queue = Queue{fd, poll}; // closed by close() from here on
  return uv_poll_start(poll, UV_READABLE, on_readable);
}

Result<std::unique_ptr<InotifyWatch>> InotifyWatch::open(uv_loop_t& loop,
                                                         InotifyHandlers handlers) {
  std::unique_ptr<InotifyWatch> watch(new InotifyWatch(std::move(handlers)));
  for (Queue* queue : {&watch->m_moves, &watch->m_writes}) {
    if (const int rc = open_queue(loop, watch.get(), *queue); rc < 0) {
      return fail(ErrorCode::io, std::string("inotify: ") + uv_strerror(rc));
    }
  }
  return watch;
}

InotifyWatch::InotifyWatch(InotifyHandlers handlers) noexcept : m_handlers(std::move(handlers)) {}

InotifyWatch::~InotifyWatch() {
  close();
}

void InotifyWatch::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  m_paused = true;
  for (Queue* queue : {&m_moves, &m_writes}) {
    if (queue->poll != nullptr) {
      uv::close_poll(queue->poll, queue->fd);
      queue->poll = nullptr;
    }
  }
}

int InotifyWatch::add(const std::string& dir) noexcept {
  if (m_closed) {
    return -EBADF;
  }
  const int wd = ::inotify_add_watch(m_moves.fd, dir.c_str(), k_moves_mask);
  if (wd < 0) {
    return -errno;
  }
  // The same directory again (a second name for it): the kernel answers with the same
  // descriptors. A directory replaced between the two calls: the pair is wrong until the
  // tailer drops it (the first watch reports the deletion).
  const bool known =
      std::any_of(m_wds.begin(), m_wds.end(), [&](const auto& p) { return p.second == wd; });
  const int writes_wd = ::inotify_add_watch(m_writes.fd, dir.c_str(), k_writes_mask);
  if (writes_wd < 0) {
    const int error = errno;
    if (!known) {
      (void)::inotify_rm_watch(m_moves.fd, wd);
    }
    return -error;
  }
  if (!known) {
    m_wds.emplace_back(writes_wd, wd);
  }
  return wd;
}

void InotifyWatch::remove(int wd) noexcept {
  if (m_closed) {
    return;
  }
  // EINVAL when the directory is gone already: fine.
  (void)::inotify_rm_watch(m_moves.fd, wd);
  for (std::size_t i = 0; i < m_wds.size(); ++i) {
    if (m_wds[i].second == wd) {
      (void)::inotify_rm_watch(m_writes.fd, m_wds[i].first);
      m_wds.erase(m_wds.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
}

int InotifyWatch::moves_wd(int writes_wd) const noexcept {
  for (const auto& [writes, moves] : m_wds) {
    if (writes == writes_wd) {
      return moves;
    }
  }
  return -1;
}

void InotifyWatch::pause() noexcept {
  if (!m_paused && !m_closed) {
    m_paused = true;
    uv_poll_stop(m_writes.poll);
  }
}

void InotifyWatch::resume() noexcept {
  if (m_paused && !m_closed) {
    m_paused = false;
    uv_poll_start(m_writes.poll, UV_READABLE, on_readable);
  }
}

void InotifyWatch::readable(int fd) noexcept {
  if (!m_closed) {
    (void)drain_queue(fd == m_writes.fd ? m_writes : m_moves);
  }
}

void InotifyWatch::drain() noexcept {
  // Moves first: a rename seen before the writes that came with it looks at the path at once.
  if (drain_queue(m_moves)) {
    (void)drain_queue(m_writes);
  }
}

bool InotifyWatch::drain_queue(const Queue& queue) noexcept {
  const bool writes = &queue == &m_writes;
  alignas(inotify_event) char buffer[k_read_bytes];
  SeenWrites seen;
  while (!m_closed) {
    seen.clear(); // the names point into the buffer, which this read overwrites
    const ssize_t n = ::read(queue.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return true; // EAGAIN: nothing more queued
    }
    for (ssize_t at = 0; !m_closed && at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        if (m_handlers.on_overflow) {
          m_handlers.on_overflow();
        }
        continue;
      }
      if ((event->mask & IN_IGNORED) != 0 || !m_handlers.on_event) {
        continue; // the watch is gone (removed, or its directory deleted: polled from now on)
      }
      if (writes && seen.again(*event)) {
        continue;
      }
      const int wd = writes ? moves_wd(event->wd) : event->wd;
      if (wd < 0) {
        continue; // a write to a directory removed meanwhile
      }
      m_handlers.on_event(InotifyEvent{wd, event->len > 0 ? event->name : nullptr, !writes});
    }
    if (static_cast<std::size_t>(n) + k_max_event_bytes <= sizeof buffer) {
      // Everything queued was read: no read(2) just to hear EAGAIN. Events from now on make
      // the descriptor readable again (the poll is level-triggered), or wait for the next drain.
      return !m_closed;
    }
  }
  return false;
}

} // namespace medic::agent::tail
