// SPDX-License-Identifier: Apache-2.0
#include "shared/uv/handle.hpp"

namespace medic::uv {

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
