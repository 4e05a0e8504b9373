// SPDX-License-Identifier: Apache-2.0
#include "agent/act/kind_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <utility>

#include "agent/act/params.hpp"
#include "agent/sample/probe_config.hpp"

namespace medic::agent::act {

namespace {

constexpr std::size_t k_min_read_bytes = 4096; // room for a status line whatever max_output is
constexpr std::size_t k_scratch_bytes = std::size_t{4} * 1024;

bool is_loopback(const sockaddr_storage& address) noexcept {
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    return IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr);
  }
  return false;
}

bool plain_path(const std::string& path) noexcept {
  return !path.empty() && path.front() == '/' &&
         std::all_of(path.begin(), path.end(), [](char c) { return c > ' ' && c < 0x7F; });
}

} // namespace

Prepared prepare_http(const HttpSpec& spec, const BoundParams& params) {
  auto address = sample::probe_address("http", spec.host, spec.port);
  if (!address) {
    return Prepared::refused(address.error().message());
  }
  if (!is_loopback(*address)) {
    return Prepared::refused("http: host " + quote_value(spec.host) + " is not a loopback address");
  }
  const std::string path = expand_url_path(spec.path, params);
  if (!plain_path(path)) {
    return Prepared::refused("http: path " + quote_value(path) +
                             " must start with '/' and hold printable ASCII only");
  }
  const std::string target = sample::probe_target(spec.host, spec.port);
  Prepared prepared;
  prepared.next = NextStep::http;
  prepared.http.address = *address;
  prepared.http.expected_status = spec.expected_status;
  prepared.http.url = spec.method + " http://" + target + path;
  prepared.http.request = spec.method + " " + path + " HTTP/1.1\r\nHost: " + target +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n"
                          "User-Agent: medic-agent\r\n\r\n";
  prepared.plan = "http " + prepared.http.url;
  return prepared;
}

HttpCall::HttpCall(uv_loop_t& loop, std::size_t max_output)
    : m_loop(loop),
      m_max_output(max_output),
      m_output(std::make_unique_for_overwrite<char[]>(std::max(max_output, k_min_read_bytes))),
      m_scratch(std::make_unique_for_overwrite<char[]>(k_scratch_bytes)) {
  uv_timer_init(&loop, &m_timer);
  m_timer.data = this;
}

HttpCall::~HttpCall() = default;

void HttpCall::start(const HttpTarget& target, std::chrono::milliseconds timeout,
                     Finished finished) {
  m_state = State::running;
  m_target = &target;
  m_finished = std::move(finished);
  m_result = HttpResult{};
  m_length = 0;
  uv_tcp_init(&m_loop, &m_tcp);
  m_tcp.data = this;
  m_tcp_open = true;
  m_connect.data = this;
  const int rc = uv_tcp_connect(&m_connect, &m_tcp,
                                reinterpret_cast<const sockaddr*>(&target.address), &on_connect);
  if (rc != 0) {
    finish(HttpEnding::failed, std::string("connecting: ") + uv_strerror(rc));
    return;
  }
  uv_timer_start(&m_timer, &on_timer, static_cast<std::uint64_t>(timeout.count()), 0);
}

void HttpCall::on_connect(uv_connect_t* request, int status) noexcept {
  auto* self = static_cast<HttpCall*>(request->data);
  if (self->m_state != State::running) {
    return; // cancelled by finish()
  }
  if (status != 0) {
    self->finish(HttpEnding::failed, std::string("connecting: ") + uv_strerror(status));
    return;
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(&self->m_tcp);
  std::string& bytes = const_cast<HttpTarget*>(self->m_target)->request;
  uv_buf_t buffer = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
  self->m_write.data = self;
  int rc = uv_write(&self->m_write, stream, &buffer, 1, &on_write);
  if (rc == 0) {
    rc = uv_read_start(stream, &on_alloc, &on_read);
  }
  if (rc != 0) {
    self->finish(HttpEnding::failed, std::string("sending: ") + uv_strerror(rc));
  }
}

void HttpCall::on_write(uv_write_t* request, int status) noexcept {
  auto* self = static_cast<HttpCall*>(request->data);
  if (self->m_state == State::running && status != 0) {
    self->finish(HttpEnding::failed, std::string("sending: ") + uv_strerror(status));
  }
}

void HttpCall::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buffer) noexcept {
  auto* self = static_cast<HttpCall*>(handle->data);
  const std::size_t capacity = std::max(self->m_max_output, k_min_read_bytes);
  if (self->m_length < capacity) {
    *buffer = uv_buf_init(self->m_output.get() + self->m_length,
                          static_cast<unsigned>(capacity - self->m_length));
  } else {
    *buffer = uv_buf_init(self->m_scratch.get(), static_cast<unsigned>(k_scratch_bytes));
  }
}

void HttpCall::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) noexcept {
  auto* self = static_cast<HttpCall*>(stream->data);
  if (self->m_state != State::running && self->m_state != State::draining) {
    return;
  }
  if (nread > 0) {
    if (buffer->base == self->m_scratch.get()) {
      self->m_result.output_dropped += static_cast<std::uint64_t>(nread);
    } else {
      self->m_length += static_cast<std::size_t>(nread);
    }
  }
  if (nread != 0) {
    self->check_response(nread < 0);
  }
}

void HttpCall::check_response(bool ended) noexcept {
  const std::string_view response(m_output.get(), m_length);
  int status = 0;
  switch (sample::parse_http_status(response, status)) {
  case sample::HttpStatusParse::ok:
    m_result.status = status;
    if (ended) {
      finish(HttpEnding::answered, {});
    } else if (m_state == State::running && sample::http_headers_complete(response)) {
      // Connection: close was asked for; a server that keeps the socket open anyway gets a
      // moment for the body, then the call ends on what arrived.
      m_state = State::draining;
      uv_timer_start(&m_timer, &on_timer, static_cast<std::uint64_t>(k_drain_ms), 0);
    }
    break;
  case sample::HttpStatusParse::malformed:
    finish(HttpEnding::failed, "the response does not start with an HTTP status line");
    break;
  case sample::HttpStatusParse::incomplete:
    if (ended || m_length >= std::max(m_max_output, k_min_read_bytes)) {
      finish(HttpEnding::failed, m_length == 0 ? "the connection closed without a response"
                                               : "the response ended inside the status line");
    }
    break;
  }
}

void HttpCall::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<HttpCall*>(timer->data);
  switch (self->m_state) {
  case State::running:
    self->finish(HttpEnding::timed_out, "no complete answer within the timeout");
    break;
  case State::draining: self->finish(HttpEnding::answered, {}); break;
  case State::closing:
    if (!self->m_tcp_open) {
      self->deliver();
    }
    break;
  case State::idle: break;
  }
}

void HttpCall::finish(HttpEnding ending, std::string reason) noexcept {
  uv_timer_stop(&m_timer);
  m_state = State::closing;
  m_result.ending = ending;
  m_result.reason = std::move(reason);
  const std::size_t kept = std::min(m_length, m_max_output);
  m_result.output_dropped += m_length - kept;
  m_result.output.assign(m_output.get(), kept);
  if (m_tcp_open) {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_tcp), &on_closed);
  } else {
    uv_timer_start(&m_timer, &on_timer, 0, 0);
  }
}

void HttpCall::on_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<HttpCall*>(handle->data);
  self->m_tcp_open = false;
  self->deliver();
}

void HttpCall::deliver() noexcept {
  m_state = State::idle;
  m_target = nullptr;
  Finished finished = std::move(m_finished);
  HttpResult result = std::move(m_result);
  if (m_closed) {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), nullptr);
  }
  if (finished) {
    finished(std::move(result));
  }
}

void HttpCall::stop() noexcept {
  if (m_state == State::running || m_state == State::draining) {
    finish(HttpEnding::stopped, "agent stopping");
  }
}

void HttpCall::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  if (m_state == State::idle) {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), nullptr);
  } else {
    stop();
  }
}

} // namespace medic::agent::act
