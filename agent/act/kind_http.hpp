// SPDX-License-Identifier: Apache-2.0
// The `http` kind: one HTTP/1.1 request to a loopback endpoint over uv_tcp on the loop
// (`METHOD path HTTP/1.1`, Host, Content-Length: 0, Connection: close). The path's "{param}"
// segments are percent-encoded values. The response is read until the server closes, at most
// max_output bytes kept and the rest counted; a server that keeps the connection open after a
// complete status line and headers is given k_drain_ms more, then the call ends. Success: the
// expected status, or any 2xx when none is set. The whole call is bounded by the action's
// timeout.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/act/action.hpp"
#include "agent/act/kind_common.hpp"

namespace medic::agent::act {

// Any thread: the request bytes and the address (numeric loopback host or "localhost" only).
[[nodiscard]] Prepared prepare_http(const HttpSpec& spec, const BoundParams& params);

enum class HttpEnding : std::uint8_t { answered, failed, timed_out, stopped };

struct HttpResult {
  HttpEnding ending = HttpEnding::failed;
  int status = 0;     // the response's status code, 0 when none was read
  std::string output; // the start of the response (status line, headers, body)
  std::uint64_t output_dropped = 0;
  std::string reason; // connection or parse error
};

// One request at a time. Loop thread only; buffers and timer made at construction.
class HttpCall {
public:
  using Finished = std::function<void(HttpResult&&)>;
  static constexpr std::int64_t k_drain_ms = 200;

  HttpCall(uv_loop_t& loop, std::size_t max_output);
  HttpCall(const HttpCall&) = delete;
  HttpCall& operator=(const HttpCall&) = delete;
  ~HttpCall();

  // `target` must stay valid until `finished` ran (once, on the loop, after the socket closed;
  // never from inside start()).
  void start(const HttpTarget& target, std::chrono::milliseconds timeout, Finished finished);
  [[nodiscard]] bool busy() const noexcept { return m_state != State::idle; }
  void stop() noexcept;  // ends a call in progress as `stopped`
  void close() noexcept; // closes the timer for good (after the call in progress ended)

private:
  enum class State : std::uint8_t { idle, running, draining, closing };

  static void on_connect(uv_connect_t* request, int status) noexcept;
  static void on_write(uv_write_t* request, int status) noexcept;
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buffer) noexcept;
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) noexcept;
  static void on_timer(uv_timer_t* timer) noexcept;
  static void on_closed(uv_handle_t* handle) noexcept;

  void finish(HttpEnding ending, std::string reason) noexcept;
  void deliver() noexcept;
  void check_response(bool ended) noexcept;

  uv_loop_t& m_loop;
  std::size_t m_max_output;
  std::unique_ptr<char[]> m_output;
  std::unique_ptr<char[]> m_scratch;
  uv_timer_t m_timer{};
  uv_tcp_t m_tcp{};
  uv_connect_t m_connect{};
  uv_write_t m_write{};
  State m_state = State::idle;
  bool m_closed = false;
  bool m_tcp_open = false;
  const HttpTarget* m_target = nullptr;
  std::size_t m_length = 0;
  HttpResult m_result;
  Finished m_finished;
};

} // namespace medic::agent::act
