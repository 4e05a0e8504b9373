// SPDX-License-Identifier: Apache-2.0
#include "shared/uv/handle.hpp"

#include <unistd.h>

#include <cstdint>

namespace medic::uv {

void close_poll(uv_poll_t* poll, int fd) noexcept {
  auto* handle = reinterpret_cast<uv_handle_t*>(poll);
  if (uv_is_closing(handle) != 0) {
    ::close(fd);
    return;
  }
  uv_poll_stop(poll);
  poll->data = reinterpret_cast<void*>(static_cast<std::intptr_t>(fd));
  uv_close(handle, [](uv_handle_t* closed) {
    ::close(static_cast<int>(reinterpret_cast<std::intptr_t>(closed->data)));
    delete reinterpret_cast<uv_poll_t*>(closed);
  });
}

void close_loop(uv_loop_t& loop) noexcept {
  uv_walk(
      &loop,
      [](uv_handle_t* handle, void*) {
        if (uv_is_closing(handle) == 0) {
          uv_close(handle, nullptr);
        }
      },
      nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

} // namespace medic::uv
