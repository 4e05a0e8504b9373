// SPDX-License-Identifier: Apache-2.0
#include "coordinator/server/zap_handler.hpp"

#include <array>

#include <spdlog/spdlog.h>

namespace medic::coordinator::server {

namespace {

constexpr const char* k_zap_endpoint = "inproc://zeromq.zap.01";
constexpr std::size_t k_request_frames =
    7; // version, id, domain, address, identity, mechanism, key
constexpr std::size_t k_curve_key_bytes = 32;

} // namespace

ZapHandler::ZapHandler(uv_loop_t& loop, zmq::context_t& context, const Clock& clock)
    : m_clock(clock),
      m_socket(context, zmq::socket_type::rep),
      m_watcher(loop, m_socket, [this] { on_request(); }) {}

Result<void> ZapHandler::start() {
  try {
    m_socket.set(zmq::sockopt::linger, 0);
    m_socket.bind(k_zap_endpoint);
  } catch (const zmq::error_t& e) {
    return fail(ErrorCode::io, std::string("starting the ZAP handler: ") + e.what());
  }
  return m_watcher.start();
}

void ZapHandler::close() noexcept {
  m_watcher.close();
  m_socket.close();
}

void ZapHandler::allow(const std::string& public_key, const std::string& agent_id) {
  m_allowed[public_key] = agent_id;
}

void ZapHandler::revoke(const std::string& public_key) {
  m_allowed.erase(public_key);
}

const std::string* ZapHandler::agent_for(std::string_view public_key) const {
  const auto it = m_allowed.find(public_key);
  return it == m_allowed.end() ? nullptr : &it->second;
}

void ZapHandler::on_request() {
  std::array<zmq::message_t, k_request_frames> frames;
  std::size_t count = 0;
  bool more = true;
  zmq::message_t extra;
  while (more) {
    zmq::message_t& frame = count < k_request_frames ? frames[count] : extra;
    if (!m_socket.recv(frame, zmq::recv_flags::dontwait)) {
      if (count == 0) {
        return;
      }
      break;
    }
    ++count;
    more = frame.more();
  }
  // REP must answer every request, even a malformed one, or it stops taking requests.
  std::string status = "400";
  std::string text = "malformed ZAP request";
  std::string user_id;
  if (count == k_request_frames && frames[0].to_string_view() == "1.0" &&
      frames[5].to_string_view() == "CURVE" && frames[6].size() == k_curve_key_bytes) {
    std::array<char, 41> z85{};
    zmq_z85_encode(z85.data(), frames[6].data<std::uint8_t>(), k_curve_key_bytes);
    const std::string key(z85.data());
    if (m_allowed.contains(key)) {
      ++m_counters.admitted;
      status = "200";
      text = "OK";
      user_id = key;
    } else {
      ++m_counters.refused;
      text = "key not enrolled";
      std::uint64_t suppressed = 0;
      if (m_log_limit.allow(m_clock.monotonic_ms(), suppressed)) {
        spdlog::warn(
            "refused an agent whose key {} is not enrolled (from {}); enrol it with "
            "medicctl keys add AGENT_ID {}",
            key, frames[3].to_string(), key);
      }
    }
  } else {
    ++m_counters.malformed;
    ++m_counters.refused;
  }
  const std::string version = "1.0";
  const std::string request_id = count > 1 ? frames[1].to_string() : std::string();
  m_socket.send(zmq::buffer(version), zmq::send_flags::sndmore);
  m_socket.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
  m_socket.send(zmq::buffer(status), zmq::send_flags::sndmore);
  m_socket.send(zmq::buffer(text), zmq::send_flags::sndmore);
  m_socket.send(zmq::buffer(user_id), zmq::send_flags::sndmore);
  m_socket.send(zmq::buffer(std::string_view()), zmq::send_flags::none);
  m_watcher.kick();
}

} // namespace medic::coordinator::server
