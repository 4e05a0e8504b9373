// SPDX-License-Identifier: Apache-2.0
#include "coordinator/server/ingest_server.hpp"

#include <cerrno>

#include <spdlog/spdlog.h>

#include "protocol/codec.hpp"

namespace medic::coordinator::server {

namespace {

constexpr std::size_t k_max_greeted = 100'000;
constexpr int k_max_frames = 2; // routing id + one payload frame

std::string printable(const std::string& peer) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string text;
  for (const char c : peer) {
    text += k_hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
    text += k_hex[static_cast<unsigned char>(c) & 0xf];
  }
  return text;
}

} // namespace

IngestServer::IngestServer(uv_loop_t& loop, zmq::context_t& context, const Clock& clock,
                           uv::Worker& storage_worker, storage::Store& store,
                           IngestSettings settings)
    : m_loop(loop),
      m_clock(clock),
      m_storage_worker(storage_worker),
      m_store(store),
      m_settings(std::move(settings)),
      m_socket(context, zmq::socket_type::router),
      m_watcher(loop, m_socket, [this] { on_readable(); }) {}

Result<void> IngestServer::start() {
  try {
    m_socket.set(zmq::sockopt::rcvhwm, m_settings.receive_queue);
    m_socket.set(zmq::sockopt::sndhwm, m_settings.receive_queue);
    m_socket.set(zmq::sockopt::linger, 0);
    m_socket.set(zmq::sockopt::maxmsgsize,
                 static_cast<std::int64_t>(protocol::Limits::k_max_frame_bytes));
    // Fail a reply to a vanished agent instead of dropping it silently.
    m_socket.set(zmq::sockopt::router_mandatory, 1);
    m_socket.bind(m_settings.listen);
    m_endpoint = m_socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    std::string hint;
    if (e.num() == EADDRINUSE) {
      hint = " (is another medic-coordinator running? change agents.listen)";
    }
    return fail(ErrorCode::io,
                "cannot listen for agents on " + m_settings.listen + ": " + e.what() + hint);
  }
  return m_watcher.start();
}

void IngestServer::on_readable() {
  zmq::message_t parts[k_max_frames];
  int count = 0;
  bool more = true;
  zmq::message_t extra;
  while (more) {
    zmq::message_t& part = count < k_max_frames ? parts[count] : extra;
    if (!m_socket.recv(part, zmq::recv_flags::dontwait)) {
      break; // a message's frames arrive together, so this only happens on an empty socket
    }
    ++count;
    more = part.more();
  }
  if (count == 0) {
    return;
  }
  ++m_counters.frames;
  const std::string peer(parts[0].data<char>(), parts[0].size());
  if (count != k_max_frames) {
    ++m_counters.malformed;
    complain("malformed message", peer,
             "expected exactly one frame, got " + std::to_string(count - 1));
    return;
  }
  handle_frame(peer, std::string_view(parts[1].data<char>(), parts[1].size()));
}

void IngestServer::handle_frame(const std::string& peer, std::string_view frame) {
  auto decoded = protocol::decode(frame);
  if (!decoded) {
    ++m_counters.malformed;
    complain("malformed message", peer, decoded.error().message());
    return;
  }
  switch (decoded->envelope.type) {
  case protocol::MessageType::hello: handle_hello(peer, std::move(*decoded)); break;
  case protocol::MessageType::batch: handle_batch(peer, std::move(*decoded)); break;
  default:
    ++m_counters.malformed;
    complain(
        "unexpected message", peer,
        std::string(protocol::to_string(decoded->envelope.type)) + " is not sent to a coordinator");
    reply_error(peer, decoded->envelope, "unexpected-type", "coordinators take HELLO and BATCH");
  }
}

void IngestServer::handle_hello(const std::string& peer, protocol::Message message) {
  ++m_counters.hellos;
  const std::string agent_id = message.envelope.agent_id;
  spdlog::info("HELLO from agent {} (host {}, version {})", agent_id,
               std::get<protocol::Hello>(message.body).host,
               std::get<protocol::Hello>(message.body).agent_version);
  if (m_greeted.size() < k_max_greeted) {
    m_greeted.insert(agent_id);
  }
  const std::int64_t received_ms = m_clock.now_unix_ms();
  const bool queued = m_storage_worker.try_submit(
      [this, message = std::move(message), received_ms]() -> uv::Worker::Completion {
        auto stored = m_store.record_hello(message.envelope,
                                           std::get<protocol::Hello>(message.body), received_ms);
        if (stored) {
          return {};
        }
        return [this, error = stored.error()] {
          ++m_counters.storage_errors;
          spdlog::error("storing HELLO: {}", error.message());
        };
      });
  if (!queued) {
    ++m_counters.refused_busy;
    complain("storage busy", peer, "HELLO not stored");
  }
}

void IngestServer::handle_batch(const std::string& peer, protocol::Message message) {
  if (!m_greeted.contains(message.envelope.agent_id) && m_greeted.size() < k_max_greeted) {
    // First we hear of this agent since start: store the batch, and ask who it is.
    reply_error(peer, message.envelope, "hello-required", "send HELLO again");
  }
  const std::int64_t received_ms = m_clock.now_unix_ms();
  const bool queued = m_storage_worker.try_submit(
      [this, peer, message = std::move(message), received_ms]() -> uv::Worker::Completion {
        const auto& batch = std::get<protocol::Batch>(message.body);
        auto outcome = m_store.record_batch(message.envelope, batch, received_ms);
        return [this, peer, agent_id = message.envelope.agent_id, seq = message.envelope.seq,
                samples = batch.samples.size(), outcome = std::move(outcome)]() mutable {
          on_batch_stored(peer, agent_id, seq, samples, std::move(outcome));
        };
      });
  if (!queued) {
    ++m_counters.refused_busy;
    complain("storage busy", peer, "batch not stored and not acked; the agent will resend it");
  }
}

void IngestServer::on_batch_stored(const std::string& peer, const std::string& agent_id,
                                   std::uint64_t seq, std::size_t samples,
                                   Result<storage::BatchOutcome> outcome) {
  if (!outcome) {
    ++m_counters.storage_errors;
    spdlog::error("storing batch {} from agent {}: {}", seq, agent_id, outcome.error().message());
    return;
  }
  if (*outcome == storage::BatchOutcome::duplicate) {
    ++m_counters.duplicates;
  } else {
    ++m_counters.batches;
    m_counters.samples += samples;
  }
  protocol::Envelope envelope;
  envelope.agent_id = agent_id;
  envelope.seq = m_next_seq++;
  envelope.sent_at_ms = m_clock.now_unix_ms();
  m_reply_frame.clear();
  protocol::encode_ack(m_reply_frame, envelope, protocol::Ack{seq});
  reply(peer, m_reply_frame);
  ++m_counters.acks_sent;
}

void IngestServer::reply_error(const std::string& peer, const protocol::Envelope& to,
                               std::string code, std::string message) noexcept {
  protocol::Envelope envelope;
  envelope.agent_id = to.agent_id;
  envelope.seq = m_next_seq++;
  envelope.sent_at_ms = m_clock.now_unix_ms();
  m_reply_frame.clear();
  protocol::encode_error(m_reply_frame, envelope,
                         protocol::ErrorReply{std::move(code), std::move(message), to.seq});
  reply(peer, m_reply_frame);
}

void IngestServer::reply(const std::string& peer, const std::string& frame) noexcept {
  try {
    const bool sent =
        m_socket.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)
            .has_value() &&
        m_socket.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
    if (!sent) {
      ++m_counters.replies_failed;
    }
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: the agent went away since it sent the batch; it resends unacked ones.
    ++m_counters.replies_failed;
  }
  m_watcher.kick();
}

void IngestServer::complain(std::string_view what, const std::string& peer,
                            std::string_view detail) noexcept {
  std::uint64_t suppressed = 0;
  if (m_log_limit.allow(m_clock.monotonic_ms(), suppressed)) {
    spdlog::warn("{} from peer {}: {}{}", what, printable(peer), detail,
                 suppressed > 0 ? fmt::format(" ({} similar lines suppressed)", suppressed) : "");
  }
}

void IngestServer::stop_receiving() noexcept {
  m_watcher.close();
}

void IngestServer::close() noexcept {
  m_watcher.close();
  m_socket.close();
}

} // namespace medic::coordinator::server
