// SPDX-License-Identifier: Apache-2.0
// Small helpers for libuv handles embedded in owner objects. An owner calls close() on shutdown
// and must outlive the loop turn that runs the close callbacks (the loop's final uv_run does).
#pragma once

#include <uv.h>

namespace medic::uv {

template <class Handle>
void close_handle(Handle& handle) noexcept {
  auto* base = reinterpret_cast<uv_handle_t*>(&handle);
  if (base->loop != nullptr && uv_is_closing(base) == 0) {
    uv_close(base, nullptr);
  }
}

// For a uv_poll_t allocated with new, watching a descriptor its owner opened: stops the poll and,
// once the loop has closed the handle, closes `fd` and frees the handle, so the owner may be gone
// by then. When the loop closed the handle already (close_loop at exit), only closes `fd`.
void close_poll(uv_poll_t* poll, int fd) noexcept;

// Runs the loop until every handle has closed, then closes the loop. Call once at exit.
void close_loop(uv_loop_t& loop) noexcept;

} // namespace medic::uv
