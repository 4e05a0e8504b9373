// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/inotify_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

#include <uv.h>

#include "shared/uv/handle.hpp"

namespace medic::agent::tail {

namespace {

// Writes, creations, deletions and renames in the directory, and the directory itself going.
constexpr std::uint32_t k_mask = IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t k_moves =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
// Room for many events per read(2): each is 16 bytes plus its name.
constexpr std::size_t k_read_bytes = 4096;
// A read that left this much room took every event queued: the kernel fills the buffer with
// whole events, the largest being the header and a NAME_MAX name with its NUL.
constexpr std::size_t k_max_event_bytes = sizeof(inotify_event) + NAME_MAX + 1;

void on_readable(uv_poll_t* poll, int status, int /*events*/) {
  if (status == 0) {
    static_cast<InotifyWatch*>(poll->data)->readable();
  }
}

} // namespace

Result<std::unique_ptr<InotifyWatch>> InotifyWatch::open(uv_loop_t& loop,
                                                         InotifyHandlers handlers) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return fail(ErrorCode::io, std::string("inotify_init1: ") + std::strerror(errno));
  }
  auto* poll = new uv_poll_t{};
  if (const int rc = uv_poll_init(&loop, poll, fd); rc < 0) {
    delete poll;
    ::close(fd);
    return fail(ErrorCode::io, std::string("inotify: uv_poll_init: ") + uv_strerror(rc));
  }
  std::unique_ptr<InotifyWatch> watch(new InotifyWatch(fd, poll, std::move(handlers)));
  poll->data = watch.get();
  if (const int rc = uv_poll_start(poll, UV_READABLE, on_readable); rc < 0) {
    return fail(ErrorCode::io, std::string("inotify: uv_poll_start: ") + uv_strerror(rc));
  }
  return watch;
}

InotifyWatch::InotifyWatch(int fd, uv_poll_t* poll, InotifyHandlers handlers) noexcept
    : m_fd(fd), m_poll(poll), m_handlers(std::move(handlers)) {}

InotifyWatch::~InotifyWatch() {
  close();
}

void InotifyWatch::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  m_paused = true;
  uv::close_poll(m_poll, m_fd);
}

int InotifyWatch::add(const std::string& dir) noexcept {
  if (m_closed) {
    return -EBADF;
  }
  const int wd = ::inotify_add_watch(m_fd, dir.c_str(), k_mask);
  return wd < 0 ? -errno : wd;
}

void InotifyWatch::remove(int wd) noexcept {
  if (m_closed) {
    return;
  }
  (void)::inotify_rm_watch(m_fd, wd); // EINVAL when the directory is gone already: fine
}

void InotifyWatch::pause() noexcept {
  if (!m_paused && !m_closed) {
    m_paused = true;
    uv_poll_stop(m_poll);
  }
}

void InotifyWatch::resume() noexcept {
  if (m_paused && !m_closed) {
    m_paused = false;
    uv_poll_start(m_poll, UV_READABLE, on_readable);
  }
}

void InotifyWatch::readable() noexcept {
  drain();
}

void InotifyWatch::drain() noexcept {
  alignas(inotify_event) char buffer[k_read_bytes];
  while (!m_closed) {
    const ssize_t n = ::read(m_fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return; // EAGAIN: nothing more queued
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
      m_handlers.on_event(InotifyEvent{event->wd, event->len > 0 ? event->name : nullptr,
                                       (event->mask & k_moves) != 0});
    }
    if (static_cast<std::size_t>(n) + k_max_event_bytes <= sizeof buffer) {
      // Everything queued was read: no read(2) just to hear EAGAIN. Events from now on make
      // the descriptor readable again (the poll is level-triggered), or wait for the next drain.
      return;
    }
  }
}

} // namespace medic::agent::tail
