// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/probe_sampler.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

// One endpoint. Loop thread only. States: idle -> running (connect, then for HTTP write and
// read) -> closing (uv_close of the socket pending) -> idle. Callbacks that arrive for an
// attempt already finished (connect or write cancelled by the close) are ignored.
class Probe {
public:
  Probe(const ProbeConfig& config, sockaddr_storage address)
      : m_config(config),
        m_address(address),
        m_target(probe_target(config.host, config.port)),
        m_request(config.kind == ProbeKind::http ? http_request(config) : std::string()),
        m_response(config.kind == ProbeKind::http
                       ? std::make_unique_for_overwrite<char[]>(config.max_response_bytes)
                       : nullptr) {}

  void open(uv_loop_t& loop) noexcept {
    m_loop = &loop;
    uv_timer_init(&loop, &m_timer);
    m_timer.data = this;
  }

  [[nodiscard]] bool busy() const noexcept { return m_state != State::idle; }
  [[nodiscard]] std::uint64_t timeouts() const noexcept { return m_timeouts; }

  void tick(SampleSink& sink, std::int64_t now_ms) noexcept {
    if (m_closed || (m_started_once && now_ms - m_last_start_ms < m_config.interval_ms) || busy()) {
      return;
    }
    m_started_once = true;
    m_last_start_ms = now_ms;
    m_sink = &sink;
    m_round_ms = now_ms;
    m_length = 0;
    m_status = 0;
    m_start_ns = uv_hrtime();
    uv_tcp_init(m_loop, &m_tcp);
    m_tcp.data = this;
    m_connect.data = this;
    m_state = State::running;
    const int rc = uv_tcp_connect(&m_connect, &m_tcp, reinterpret_cast<const sockaddr*>(&m_address),
                                  &on_connect);
    if (rc != 0) {
      finish(false);
      return;
    }
    uv_timer_start(&m_timer, &on_timeout, static_cast<std::uint64_t>(m_config.timeout_ms), 0);
  }

  void close() noexcept {
    if (m_closed) {
      return;
    }
    m_closed = true;
    if (m_state == State::running) {
      end_attempt();
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), nullptr);
  }

private:
  enum class State { idle, running, closing };

  static void on_connect(uv_connect_t* request, int status) noexcept {
    auto* self = static_cast<Probe*>(request->data);
    if (self->m_state != State::running) {
      return;
    }
    if (status != 0) {
      self->finish(false);
    } else if (self->m_config.kind == ProbeKind::tcp) {
      self->finish(true);
    } else {
      self->send_request();
    }
  }

  void send_request() noexcept {
    uv_buf_t buffer = uv_buf_init(m_request.data(), static_cast<unsigned>(m_request.size()));
    auto* stream = reinterpret_cast<uv_stream_t*>(&m_tcp);
    m_write.data = this;
    if (uv_write(&m_write, stream, &buffer, 1, &on_write) != 0 ||
        uv_read_start(stream, &on_alloc, &on_read) != 0) {
      finish(false);
    }
  }

  static void on_write(uv_write_t* request, int status) noexcept {
    auto* self = static_cast<Probe*>(request->data);
    if (self->m_state == State::running && status != 0) {
      self->finish(false);
    }
  }

  static void on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buffer) noexcept {
    auto* self = static_cast<Probe*>(handle->data);
    const std::size_t room = self->m_config.max_response_bytes - self->m_length;
    *buffer = uv_buf_init(self->m_response.get() + self->m_length, static_cast<unsigned>(room));
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) noexcept {
    auto* self = static_cast<Probe*>(stream->data);
    if (self->m_state != State::running) {
      return;
    }
    if (nread > 0) {
      self->m_length += static_cast<std::size_t>(nread);
    }
    const std::string_view response(self->m_response.get(), self->m_length);
    const bool ended = nread < 0; // EOF, reset, or no room left (UV_ENOBUFS)
    const bool full = self->m_length >= self->m_config.max_response_bytes;
    int status = 0;
    const HttpStatusParse parsed = parse_http_status(response, status);
    if (parsed == HttpStatusParse::ok && (ended || full || http_headers_complete(response))) {
      // The status line is all that decides; headers are waited for so that the latency covers
      // the server's whole answer (up to the body), and a long header block is not an error.
      self->m_status = status;
      self->finish(self->status_is_up(status));
    } else if (parsed == HttpStatusParse::malformed || ended || full) {
      self->finish(false);
    }
  }

  static void on_timeout(uv_timer_t* timer) noexcept {
    auto* self = static_cast<Probe*>(timer->data);
    if (self->m_state == State::running) {
      ++self->m_timeouts;
      self->finish(false);
    }
  }

  [[nodiscard]] bool status_is_up(int status) const noexcept {
    return m_config.expected_status != 0 ? status == m_config.expected_status
                                         : status >= 200 && status < 400;
  }

  void finish(bool up) noexcept {
    const double latency_ms = static_cast<double>(uv_hrtime() - m_start_ns) / 1e6;
    end_attempt();
    const protocol::LabelView labels[] = {{"probe", m_config.name}, {"target", m_target}};
    m_sink->add("probe.up", up ? 1.0 : 0.0, m_round_ms, labels);
    if (up) {
      m_sink->add("probe.latency_ms", latency_ms, m_round_ms, labels);
    }
    if (m_status != 0) {
      m_sink->add("probe.http_status", m_status, m_round_ms, labels);
    }
  }

  // Stops the timer and closes the socket; the probe is idle again once the close completes.
  void end_attempt() noexcept {
    uv_timer_stop(&m_timer);
    m_state = State::closing;
    uv_close(reinterpret_cast<uv_handle_t*>(&m_tcp), &on_closed);
  }

  static void on_closed(uv_handle_t* handle) noexcept {
    static_cast<Probe*>(handle->data)->m_state = State::idle;
  }

  const ProbeConfig& m_config;
  sockaddr_storage m_address;
  std::string m_target;
  std::string m_request;
  std::unique_ptr<char[]> m_response;
  uv_loop_t* m_loop = nullptr;
  uv_tcp_t m_tcp{};
  uv_connect_t m_connect{};
  uv_write_t m_write{};
  uv_timer_t m_timer{};
  State m_state = State::idle;
  bool m_closed = false;
  bool m_started_once = false;
  SampleSink* m_sink = nullptr;
  std::int64_t m_round_ms = 0;
  std::int64_t m_last_start_ms = 0;
  std::uint64_t m_start_ns = 0;
  std::size_t m_length = 0;
  int m_status = 0;
  std::uint64_t m_timeouts = 0;
};

ProbeSampler::ProbeSampler(ProbesConfig config) : m_config(std::move(config)) {}

ProbeSampler::~ProbeSampler() = default;

Result<void> ProbeSampler::open(uv_loop_t& loop) {
  if (!m_probes.empty()) {
    return fail(ErrorCode::internal, "probe sampler: open() called twice");
  }
  if (auto valid = m_config.validate(); !valid) {
    return valid;
  }
  m_probes.reserve(m_config.probes.size());
  for (std::size_t i = 0; i < m_config.probes.size(); ++i) {
    const ProbeConfig& config = m_config.probes[i];
    auto address = probe_address("probes[" + std::to_string(i) + "]", config.host, config.port);
    if (!address) {
      return fail(std::move(address).error());
    }
    m_probes.push_back(std::make_unique<Probe>(config, *address));
    m_probes.back()->open(loop);
  }
  return {};
}

Result<void> ProbeSampler::sample(SampleSink& sink, std::int64_t now_ms) {
  for (const auto& probe : m_probes) {
    probe->tick(sink, now_ms);
  }
  return {};
}

void ProbeSampler::close() noexcept {
  for (const auto& probe : m_probes) {
    probe->close();
  }
}

bool ProbeSampler::busy() const noexcept {
  for (const auto& probe : m_probes) {
    if (probe->busy()) {
      return true;
    }
  }
  return false;
}

std::uint64_t ProbeSampler::timeouts() const noexcept {
  std::uint64_t total = 0;
  for (const auto& probe : m_probes) {
    total += probe->timeouts();
  }
  return total;
}

} // namespace medic::agent::sample
