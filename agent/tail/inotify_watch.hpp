// SPDX-License-Identifier: Apache-2.0
// Two inotify descriptors for all of the tailer's directories, read on the loop through uv_poll_t
// handles: one for files created, deleted and renamed (and the directory itself going), one for
// files written to. Unlike uv_fs_event_t, the writes can be paused: when writes keep waking the
// loop, the tailer stops listening to them for a moment and reads what piled up in one go when
// it serves the files, so a busy directory (every append to every file in /var/log is an event)
// costs a couple of wake-ups per read_interval instead of one per write. Creations, deletions
// and renames are never paused: they come at once, so a file created and renamed away again
// while the writes are paused is still seen under its first name (a rotation is rare; a write is
// not). Pausing and resuming cost three epoll_ctl calls (libuv removes the descriptor at once,
// and again before adding it back), so a quiet directory, whose burst of writes is read in one
// wake-up, is not paused at all. The kernel keeps the events meanwhile (identical consecutive
// ones are merged); if a queue overflows, on_overflow says so and the caller must look at
// everything.
//
// Loop thread only. Events are delivered from drain() and from the poll callbacks; a handler may
// call add(), remove() and pause(), not destroy the watch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shared/error.hpp"

typedef struct uv_loop_s uv_loop_t; // NOLINT: matches <uv.h>
typedef struct uv_poll_s uv_poll_t; // NOLINT: matches <uv.h>

namespace medic::agent::tail {

struct InotifyEvent {
  int wd = -1;
  const char* name = nullptr; // null: the event is about the directory itself
  bool moved = false;         // created, deleted or renamed (not just written to)
};

struct InotifyHandlers {
  std::function<void(const InotifyEvent&)> on_event;
  std::function<void()> on_overflow;
};

class InotifyWatch {
public:
  // Fails when inotify is not available (the caller then polls).
  [[nodiscard]] static Result<std::unique_ptr<InotifyWatch>> open(uv_loop_t& loop,
                                                                  InotifyHandlers handlers);
  InotifyWatch(const InotifyWatch&) = delete;
  InotifyWatch& operator=(const InotifyWatch&) = delete;
  // Closes (see close()); the descriptor goes once the loop has closed the poll handle.
  ~InotifyWatch();

  // Watches the directory for files created, written, deleted and renamed; the watch
  // descriptor (events carry it), or -errno (ENOSPC: the inotify watch limit).
  [[nodiscard]] int add(const std::string& dir) noexcept;
  void remove(int wd) noexcept;

  // Stops waking the loop for writes; they queue in the kernel until drain() or resume().
  void pause() noexcept;
  void resume() noexcept;
  [[nodiscard]] bool paused() const noexcept { return m_paused; }
  // Reads and delivers every event queued now (until a handler calls close()).
  void drain() noexcept;
  // For the poll callbacks: the descriptor that became readable.
  void readable(int fd) noexcept;
  // Stops for good: the poll handle is closed (the descriptor with it); safe inside a handler.
  void close() noexcept;

private:
  struct Queue {
    int fd = -1;
    uv_poll_t* poll = nullptr; // heap: freed by its close callback, which also closes fd
  };
  explicit InotifyWatch(InotifyHandlers handlers) noexcept;
  [[nodiscard]] static int open_queue(uv_loop_t& loop, InotifyWatch* owner, Queue& queue) noexcept;
  // Reads and delivers what the queue holds now; false once a handler closed the watch.
  bool drain_queue(const Queue& queue) noexcept;
  [[nodiscard]] int moves_wd(int writes_wd) const noexcept;

  Queue m_moves;  // creations, deletions, renames: never paused
  Queue m_writes; // writes: paused by pause()
  // (writes descriptor, moves descriptor) per directory: events carry the second.
  std::vector<std::pair<int, int>> m_wds;
  InotifyHandlers m_handlers;
  bool m_paused = false;
  bool m_closed = false;
};

} // namespace medic::agent::tail
