// SPDX-License-Identifier: Apache-2.0
#include "coordinator/server/ingest_server.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <spdlog/spdlog.h>

#include "protocol/codec.hpp"
#include "shared/uv/handle.hpp"

namespace medic::coordinator::server {

namespace {

constexpr int k_max_frames = 2; // routing id + one payload frame
constexpr std::uint64_t k_rebind_retry_ms = 50;
constexpr int k_max_rebind_attempts = 200; // 10 s

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
                           const ZapHandler& zap, uv::Worker& storage_worker, storage::Store& store,
                           IngestSettings settings)
    : m_loop(loop),
      m_context(context),
      m_clock(clock),
      m_zap(zap),
      m_storage_worker(storage_worker),
      m_store(store),
      m_settings(std::move(settings)) {
  uv_timer_init(&m_loop, &m_rebind_timer);
  m_rebind_timer.data = this;
  m_spare_limit = std::min(std::max<std::size_t>(m_settings.storage_queue, 1), k_max_spare_messages);
  m_spare_messages.reserve(m_spare_limit); // recycle() then never allocates
}

IngestServer::~IngestServer() = default;

Result<void> IngestServer::open_socket() {
  m_socket = std::make_unique<zmq::socket_t>(m_context, zmq::socket_type::router);
  try {
    m_socket->set(zmq::sockopt::rcvhwm, m_settings.receive_queue);
    m_socket->set(zmq::sockopt::sndhwm, m_settings.receive_queue);
    m_socket->set(zmq::sockopt::linger, 0);
    // A restarted coordinator is reconnected to by the whole fleet at once.
    m_socket->set(zmq::sockopt::backlog, 4096);
    m_socket->set(zmq::sockopt::maxmsgsize,
                  static_cast<std::int64_t>(protocol::Limits::k_max_frame_bytes));
    // Fail a reply to a vanished agent instead of dropping it silently.
    m_socket->set(zmq::sockopt::router_mandatory, 1);
    m_socket->set(zmq::sockopt::curve_server, 1);
    m_socket->set(zmq::sockopt::curve_secretkey, m_settings.secret_key);
    m_socket->set(zmq::sockopt::zap_domain, "medic");
    m_socket->bind(m_endpoint.empty() ? m_settings.listen : m_endpoint);
    m_endpoint = m_socket->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    std::string hint;
    if (e.num() == EADDRINUSE) {
      hint = " (is another medic-coordinator running? change agents.listen)";
    }
    m_socket.reset();
    return fail(ErrorCode::io,
                "cannot listen for agents on " + m_settings.listen + ": " + e.what() + hint);
  }
  m_watcher = std::make_unique<uv::ZmqWatcher>(m_loop, *m_socket, uv::ZmqWatcher::until_empty,
                                                [this] { return on_message(); });
  m_watcher->set_on_drained([this] { flush_pending(); });
  m_receiving = true;
  return m_watcher->start();
}

Result<void> IngestServer::start() {
  return open_socket();
}

void IngestServer::cut_off(const std::string& agent_id) noexcept {
  if (!m_receiving || m_socket == nullptr) {
    return;
  }
  ++m_counters.cut_offs;
  flush_pending(true);
  m_peers.erase(agent_id);
  spdlog::info("cutting off agent {}: reopening {} so every agent authenticates again", agent_id,
               m_endpoint);
  uv::ZmqWatcher::dispose(std::move(m_watcher));
  m_socket->close();
  m_socket.reset();
  m_rebind_attempts = 0;
  // libzmq closes the old listener on its I/O thread; the port may need a moment to free up.
  uv_timer_start(&m_rebind_timer, &IngestServer::on_rebind_timer, 0, 0);
}

void IngestServer::on_rebind_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<IngestServer*>(timer->data);
  if (!self->m_receiving) {
    return;
  }
  auto opened = self->open_socket();
  if (opened) {
    return;
  }
  if (++self->m_rebind_attempts < k_max_rebind_attempts) {
    uv_timer_start(timer, &IngestServer::on_rebind_timer, k_rebind_retry_ms, 0);
    return;
  }
  spdlog::critical("could not listen for agents again after a cut-off: {}",
                   opened.error().message());
}

bool IngestServer::on_message() {
  // Storage is full: stop reading so ZeroMQ's queues and then TCP push back on the agents,
  // rather than decoding batches only to refuse them. Resumed as the writer catches up.
  if (m_batches_in_storage + m_pending.size() >= m_settings.storage_queue) {
    ++m_counters.paused;
    m_watcher->pause();
    return false;
  }
  zmq::message_t parts[k_max_frames];
  int count = 0;
  bool more = true;
  zmq::message_t extra;
  while (more) {
    zmq::message_t& part = count < k_max_frames ? parts[count] : extra;
    if (!m_socket->recv(part, zmq::recv_flags::dontwait)) {
      break; // a message's frames arrive together, so this only happens on an empty socket
    }
    ++count;
    more = part.more();
  }
  if (count == 0) {
    return false; // EAGAIN: the watcher asks ZMQ_EVENTS once, then sleeps or goes on
  }
  ++m_counters.frames;
  const std::string peer(parts[0].data<char>(), parts[0].size());
  if (count != k_max_frames) {
    ++m_counters.malformed;
    ++m_counters.malformed_by_reason[4]; // frame-count
    complain("malformed message", peer,
             "expected exactly one frame, got " + std::to_string(count - 1));
    return true;
  }
  // ZAP set User-Id to the Z85 public key the peer authenticated with.
  const char* key = parts[1].gets("User-Id");
  handle_frame(peer, key != nullptr ? std::string_view(key) : std::string_view(),
               parts[1].to_string_view());
  return true;
}

void IngestServer::handle_frame(const std::string& peer, std::string_view key,
                                std::string_view frame) {
  // Points into the allowlist, which nothing below changes before the message is dispatched;
  // after that the message's own (checked) agent_id is used.
  const std::string* agent = m_zap.agent_for(key);
  if (agent == nullptr) {
    ++m_counters.unauthorized;
    complain("message over a revoked key", peer, key);
    reply_error(peer, "-", std::nullopt, "revoked", "this agent's key is no longer enrolled");
    return;
  }
  protocol::DecodeFailure failure = protocol::DecodeFailure::malformed;
  protocol::Message message = take_message();
  auto decoded = protocol::decode_into(message, frame, &failure);
  if (!decoded) {
    ++m_counters.malformed;
    ++m_counters.malformed_by_reason[static_cast<std::size_t>(failure)];
    complain("malformed message from agent " + *agent, peer, decoded.error().message());
    const auto envelope = protocol::peek_envelope(std::as_bytes(std::span(frame)));
    reply_error(peer, *agent, envelope ? std::optional<std::uint64_t>(envelope->seq) : std::nullopt,
                protocol::error_code(failure), decoded.error().message());
    recycle(std::move(message));
    return;
  }
  if (message.envelope.agent_id != *agent) {
    ++m_counters.unauthorized;
    complain("wrong agent id", peer,
             "key of agent " + *agent + " sent a message as " + message.envelope.agent_id);
    reply_error(peer, *agent, message.envelope.seq, "wrong-agent-id",
                "this key is enrolled for agent " + *agent);
    recycle(std::move(message));
    return;
  }
  Peer& state = m_peers[message.envelope.agent_id];
  state.routing_id = peer;
  state.last_contact_ms = m_clock.monotonic_ms();
  switch (message.envelope.type) {
  case protocol::MessageType::hello: handle_hello(peer, std::move(message)); return;
  case protocol::MessageType::batch: handle_batch(peer, std::move(message)); return;
  case protocol::MessageType::heartbeat: handle_heartbeat(peer, message); break;
  case protocol::MessageType::result: handle_result(message); break;
  default:
    ++m_counters.malformed;
    ++m_counters.malformed_by_reason[5]; // unexpected-type
    complain(
        "unexpected message", peer,
        std::string(protocol::to_string(message.envelope.type)) + " is not sent to a coordinator");
    reply_error(peer, message.envelope.agent_id, message.envelope.seq, "unexpected-type",
                "coordinators take HELLO, BATCH, HEARTBEAT and RESULT");
  }
  recycle(std::move(message));
}

protocol::Message IngestServer::take_message() noexcept {
  if (m_spare_messages.empty()) {
    return {};
  }
  protocol::Message message = std::move(m_spare_messages.back().message);
  m_spare_bytes -= std::min(m_spare_bytes, m_spare_messages.back().bytes);
  m_spare_messages.pop_back();
  return message;
}

void IngestServer::recycle(protocol::Message&& message) noexcept {
  if (m_spare_messages.size() >= m_spare_limit) {
    return; // freed here, on the loop thread that allocated it
  }
  auto* batch = std::get_if<protocol::Batch>(&message.body);
  if (batch == nullptr) {
    batch = &message.body.emplace<protocol::Batch>(); // a HELLO's catalog is not kept
  }
  // The rare parts are freed now; what is kept is the samples' buffers, if they are modest.
  batch->signals.clear();
  batch->logs.clear();
  batch->results.clear();
  batch->budgets.clear();
  batch->evidence.clear();
  std::size_t bytes = message.envelope.agent_id.capacity() +
                      batch->samples.capacity() * sizeof(protocol::Sample) +
                      (batch->signals.capacity() * sizeof(protocol::Signal)) +
                      (batch->logs.capacity() * sizeof(protocol::LogEvent)) +
                      (batch->results.capacity() * sizeof(protocol::CommandResult)) +
                      (batch->budgets.capacity() * sizeof(protocol::BudgetReport)) +
                      (batch->evidence.capacity() * sizeof(protocol::Evidence));
  const std::size_t room = k_max_spare_bytes - std::min(k_max_spare_bytes, m_spare_bytes);
  for (const auto& sample : batch->samples) {
    bytes += sample.name.capacity() + sample.labels.capacity() * sizeof(protocol::Label);
    for (const auto& label : sample.labels) {
      bytes += label.name.capacity() + label.value.capacity();
    }
    if (bytes > room) {
      return;
    }
  }
  if (bytes <= room) {
    m_spare_bytes += bytes;
    m_spare_messages.push_back({std::move(message), bytes}); // reserved: never reallocates
  }
}

void IngestServer::handle_hello(const std::string& peer, protocol::Message message) {
  ++m_counters.hellos;
  const auto& hello = std::get<protocol::Hello>(message.body);
  spdlog::info("HELLO from agent {} (host {}, version {})", message.envelope.agent_id, hello.host,
               hello.agent_version);
  m_greeted.insert(message.envelope.agent_id);
  flush_pending(true); // batches that arrived before this HELLO are stored before it
  const std::int64_t received_ms = m_clock.now_unix_ms();
  if (m_listener != nullptr) {
    m_listener->on_hello(message.envelope.agent_id, hello, received_ms);
  }
  const bool queued = m_storage_worker.try_submit(
      [this, message = std::move(message), received_ms]() -> uv::Worker::Completion {
        auto stored = m_store.record_hello(message.envelope,
                                           std::get<protocol::Hello>(message.body), received_ms);
        return [this, stored = std::move(stored)] {
          maybe_resume();
          if (!stored) {
            ++m_counters.storage_errors;
            spdlog::error("storing HELLO: {}", stored.error().message());
          }
        };
      });
  if (!queued) {
    ++m_counters.refused_busy;
    complain("storage busy", peer, "HELLO not stored");
  }
}

void IngestServer::handle_batch(const std::string& peer, protocol::Message message) {
  if (!m_greeted.contains(message.envelope.agent_id)) {
    // First we hear of this agent since start: store the batch, and ask who it is.
    reply_error(peer, message.envelope.agent_id, message.envelope.seq, "hello-required",
                "send HELLO again");
  }
  m_pending.push_back({peer, std::move(message), m_clock.now_unix_ms()});
  if (m_pending.size() >= uv::ZmqWatcher::k_budget) {
    flush_pending();
  }
}

void IngestServer::flush_pending(bool force) noexcept {
  if (m_pending.empty() || (!force && m_store_jobs >= k_max_store_jobs)) {
    return;
  }
  const std::size_t count = m_pending.size();
  auto job = [this, pending = std::make_shared<std::vector<PendingBatch>>(
                        std::move(m_pending))]() -> uv::Worker::Completion {
    // One transaction for the whole drain (the store's record_batches).
    std::vector<storage::Store::BatchToStore> group;
    group.reserve(pending->size());
    for (const auto& item : *pending) {
      group.push_back({&item.message.envelope, &std::get<protocol::Batch>(item.message.body),
                       item.received_ms});
    }
    const auto started = std::chrono::steady_clock::now();
    auto outcomes = std::make_shared<std::vector<Result<storage::BatchOutcome>>>(
        m_store.record_batches(group));
    if (m_store_latency != nullptr) {
      m_store_latency->observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    return [this, pending, outcomes] {
      m_batches_in_storage -= std::min(m_batches_in_storage, pending->size());
      m_store_jobs -= std::min<std::size_t>(m_store_jobs, 1);
      for (std::size_t i = 0; i < pending->size(); ++i) {
        auto& item = (*pending)[i];
        on_batch_stored(item.peer, item.message, item.received_ms, std::move((*outcomes)[i]));
        recycle(std::move(item.message));
      }
      pending->clear();
      if (pending->capacity() > m_spare_pending.capacity()) {
        m_spare_pending.swap(*pending); // the next group reuses this vector's capacity
      }
      flush_pending(); // what arrived meanwhile, as the next group
    };
  };
  m_pending.clear();
  m_pending.swap(m_spare_pending);
  if (m_storage_worker.try_submit(std::move(job))) {
    m_batches_in_storage += count;
    ++m_store_jobs;
    return;
  }
  m_counters.refused_busy += count;
  complain("storage busy", "",
           std::to_string(count) + " batches not stored and not acked; agents will resend them");
}

void IngestServer::handle_heartbeat(const std::string& peer, const protocol::Message& message) {
  ++m_counters.heartbeats;
  m_peers[message.envelope.agent_id].last_heartbeat = std::get<protocol::Heartbeat>(message.body);
  m_reply_frame.clear();
  protocol::encode_heartbeat(m_reply_frame, reply_envelope(message.envelope.agent_id), {});
  reply(peer, m_reply_frame);
}

void IngestServer::handle_result(const protocol::Message& message) {
  ++m_counters.results;
  const auto& result = std::get<protocol::CommandResult>(message.body);
  spdlog::info("RESULT from agent {} for command {}: {} ({})", message.envelope.agent_id,
               result.command_id, protocol::to_string(result.status), result.reason);
  if (m_listener != nullptr) {
    m_listener->on_result(message.envelope.agent_id, result, m_clock.now_unix_ms());
  }
}

Result<void> IngestServer::send_command(const std::string& agent_id,
                                        const protocol::Command& command) noexcept {
  if (!m_peers.contains(agent_id) || m_socket == nullptr) {
    return fail(ErrorCode::not_found, "agent " + agent_id + " is not connected");
  }
  std::string frame;
  protocol::encode_command(frame, reply_envelope(agent_id), command);
  return send_frame(agent_id, frame);
}

Result<void> IngestServer::send_policy(const std::string& agent_id,
                                       const protocol::Policy& policy) noexcept {
  if (!m_peers.contains(agent_id) || m_socket == nullptr) {
    return fail(ErrorCode::not_found, "agent " + agent_id + " is not connected");
  }
  std::string frame;
  protocol::encode_policy(frame, reply_envelope(agent_id), policy);
  return send_frame(agent_id, frame);
}

Result<void> IngestServer::send_frame(const std::string& agent_id, const std::string& frame) {
  const std::uint64_t failed_before = m_counters.replies_failed;
  reply(m_peers.at(agent_id).routing_id, frame);
  if (m_counters.replies_failed != failed_before) {
    return fail(ErrorCode::busy, "agent " + agent_id +
                                     " is not reachable now (its connection "
                                     "is gone or its queue is full)");
  }
  return {};
}

void IngestServer::on_batch_stored(const std::string& peer, const protocol::Message& message,
                                   std::int64_t received_ms,
                                   Result<storage::BatchOutcome> outcome) {
  maybe_resume();
  const std::string& agent_id = message.envelope.agent_id;
  const std::uint64_t seq = message.envelope.seq;
  const auto& batch = std::get<protocol::Batch>(message.body);
  const std::size_t samples = batch.samples.size();
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
    if (m_listener != nullptr) {
      m_listener->on_batch(agent_id, batch, received_ms);
    }
  }
  m_reply_frame.clear();
  protocol::encode_ack(m_reply_frame, reply_envelope(agent_id), protocol::Ack{seq});
  reply(peer, m_reply_frame);
  ++m_counters.acks_sent;
}

void IngestServer::maybe_resume() noexcept {
  if (m_watcher && m_watcher->paused() && m_receiving &&
      m_batches_in_storage + m_pending.size() <= m_settings.storage_queue / 2) {
    m_watcher->resume();
  }
}

const protocol::Envelope& IngestServer::reply_envelope(std::string_view agent_id) {
  m_reply_envelope.agent_id.assign(agent_id);
  m_reply_envelope.seq = m_next_seq++;
  m_reply_envelope.sent_at_ms = m_clock.now_unix_ms();
  return m_reply_envelope;
}

void IngestServer::reply_error(const std::string& peer, const std::string& agent_id,
                               std::optional<std::uint64_t> ref_seq, std::string_view code,
                               std::string message) noexcept {
  m_reply_frame.clear();
  protocol::encode_error(m_reply_frame, reply_envelope(agent_id),
                         protocol::ErrorReply{std::string(code), std::move(message), ref_seq});
  reply(peer, m_reply_frame);
}

void IngestServer::reply(const std::string& peer, const std::string& frame) noexcept {
  if (m_socket == nullptr) {
    ++m_counters.replies_failed; // between a cut-off and the rebind
    return;
  }
  try {
    const bool sent =
        m_socket->send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)
            .has_value() &&
        m_socket->send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
    if (!sent) {
      ++m_counters.replies_failed;
    }
  } catch (const zmq::error_t&) {
    // EHOSTUNREACH: the agent went away since it sent the batch; it resends unacked ones.
    ++m_counters.replies_failed;
  }
  if (m_watcher) {
    m_watcher->kick();
  }
}

void IngestServer::complain(std::string_view what, const std::string& peer,
                            std::string_view detail) noexcept {
  std::uint64_t suppressed = 0;
  if (m_log_limit.allow(m_clock.monotonic_ms(), suppressed)) {
    spdlog::warn("{} (peer {}): {}{}", what, printable(peer), detail,
                 suppressed > 0 ? fmt::format(" ({} similar lines suppressed)", suppressed) : "");
  }
}

void IngestServer::stop_receiving() noexcept {
  flush_pending(true); // the storage worker drains next, and acks these too
  m_receiving = false;
  uv::close_handle(m_rebind_timer);
  if (m_watcher) {
    m_watcher->close();
  }
}

void IngestServer::close() noexcept {
  stop_receiving();
  if (m_socket) {
    m_socket->close();
  }
}

} // namespace medic::coordinator::server
