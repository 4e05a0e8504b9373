// SPDX-License-Identifier: Apache-2.0
#include "agent/link/coordinator_link.hpp"

#include <spdlog/spdlog.h>

#include "protocol/codec.hpp"

namespace medic::agent::link {

namespace {

constexpr int k_linger_ms = 500; // shutdown must finish within 2 s
constexpr int k_reconnect_ms = 200;
constexpr int k_reconnect_max_ms = 5000;

} // namespace

CoordinatorLink::CoordinatorLink(uv_loop_t& loop, zmq::context_t& context, const Clock& clock,
                                 LinkSettings settings)
    : m_clock(clock),
      m_settings(std::move(settings)),
      m_socket(context, zmq::socket_type::dealer),
      m_watcher(loop, m_socket, [this] { on_readable(); }) {
  m_frame.reserve(64 * 1024);
}

Result<void> CoordinatorLink::start() {
  try {
    m_socket.set(zmq::sockopt::sndhwm, m_settings.send_queue);
    m_socket.set(zmq::sockopt::rcvhwm, 1000);
    m_socket.set(zmq::sockopt::linger, k_linger_ms);
    m_socket.set(zmq::sockopt::reconnect_ivl, k_reconnect_ms);
    m_socket.set(zmq::sockopt::reconnect_ivl_max, k_reconnect_max_ms);
    m_socket.set(zmq::sockopt::maxmsgsize,
                 static_cast<std::int64_t>(protocol::Limits::k_max_frame_bytes));
    m_socket.connect(m_settings.endpoint);
  } catch (const zmq::error_t& e) {
    return fail(ErrorCode::io,
                "connecting to the coordinator at " + m_settings.endpoint + ": " + e.what());
  }
  if (auto watching = m_watcher.start(); !watching) {
    return watching;
  }
  send_hello();
  return {};
}

protocol::Envelope CoordinatorLink::envelope(std::uint64_t seq) const {
  protocol::Envelope envelope;
  envelope.agent_id = m_settings.agent_id;
  envelope.seq = seq;
  envelope.sent_at_ms = m_clock.now_unix_ms();
  return envelope;
}

bool CoordinatorLink::send_frame(std::string_view what) noexcept {
  bool sent = false;
  try {
    sent =
        m_socket.send(zmq::const_buffer(m_frame.data(), m_frame.size()), zmq::send_flags::dontwait)
            .has_value();
  } catch (const zmq::error_t& e) {
    spdlog::warn("sending {} to the coordinator failed: {}", what, e.what());
  }
  // The send may have consumed the ZMQ_FD edge that announced an incoming ACK.
  m_watcher.kick();
  return sent;
}

void CoordinatorLink::send_hello() noexcept {
  m_frame.clear();
  protocol::encode_hello(m_frame, envelope(0), m_settings.hello);
  if (!send_frame("HELLO")) {
    spdlog::warn("HELLO not queued: the send queue is full");
  }
}

void CoordinatorLink::send_batch(std::span<const protocol::SampleView> samples) noexcept {
  const std::uint64_t seq = m_next_seq++;
  m_frame.clear();
  protocol::encode_batch(m_frame, envelope(seq), samples);
  if (send_frame("BATCH")) {
    ++m_counters.batches_sent;
    m_counters.samples_sent += samples.size();
    return;
  }
  ++m_counters.batches_dropped;
  std::uint64_t suppressed = 0;
  if (m_log_limit.allow(m_clock.monotonic_ms(), suppressed)) {
    spdlog::warn("coordinator at {} is not taking batches: dropped batch {} ({} dropped so far)",
                 m_settings.endpoint, seq, m_counters.batches_dropped);
  }
}

void CoordinatorLink::on_readable() {
  zmq::message_t message;
  if (!m_socket.recv(message, zmq::recv_flags::dontwait)) {
    return;
  }
  // The coordinator sends single-frame messages; drop any extra frames of a multipart one.
  bool multipart = message.more();
  while (message.more() && m_socket.recv(message, zmq::recv_flags::dontwait)) {
  }
  auto decoded = multipart
                     ? Result<protocol::Message>(fail(ErrorCode::protocol, "multipart message"))
                     : protocol::decode(std::string_view(message.data<char>(), message.size()));
  if (!decoded) {
    ++m_counters.malformed_received;
    std::uint64_t suppressed = 0;
    if (m_log_limit.allow(m_clock.monotonic_ms(), suppressed)) {
      spdlog::warn("malformed message from the coordinator: {}", decoded.error().message());
    }
    return;
  }
  if (const auto* ack = std::get_if<protocol::Ack>(&decoded->body)) {
    ++m_counters.acks;
    m_counters.last_acked_seq = std::max(m_counters.last_acked_seq, ack->acked_seq);
  } else if (const auto* error = std::get_if<protocol::ErrorReply>(&decoded->body)) {
    ++m_counters.errors_received;
    if (error->code == "hello-required") {
      send_hello();
    } else {
      spdlog::warn("coordinator refused message {}: {}: {}", error->ref_seq, error->code,
                   error->message);
    }
  }
}

void CoordinatorLink::close() noexcept {
  m_watcher.close();
  m_socket.close();
}

} // namespace medic::agent::link
