// SPDX-License-Identifier: Apache-2.0
#include "agent/link/coordinator_link.hpp"

#include <algorithm>
#include <string>

#include <spdlog/spdlog.h>

#include "protocol/codec.hpp"
#include "shared/uv/handle.hpp"

namespace medic::agent::link {

namespace {

constexpr int k_linger_ms = 500; // shutdown must finish within 2 s
constexpr int k_reconnect_ms = 200;
constexpr int k_reconnect_max_ms = 2000;
constexpr std::uint64_t k_lost_ask_ms = 1000; // HEARTBEAT interval while the coordinator is lost

} // namespace

CoordinatorLink::CoordinatorLink(uv_loop_t& loop, zmq::context_t& context, const Clock& clock,
                                 Spool spool, LinkSettings settings)
    : m_loop(loop),
      m_clock(clock),
      m_settings(std::move(settings)),
      m_socket(context, zmq::socket_type::dealer),
      m_watcher(loop, m_socket, [this] { on_readable(); }),
      m_delivery(loop, clock, std::move(spool), m_settings.delivery,
                 [this](std::string_view frame) { return send_frame(frame); }) {
  m_frame.reserve(64 * 1024);
}

Result<void> CoordinatorLink::start() {
  try {
    m_socket.set(zmq::sockopt::sndhwm, m_settings.send_queue);
    m_socket.set(zmq::sockopt::rcvhwm, 1000);
    m_socket.set(zmq::sockopt::linger, k_linger_ms);
    // Nothing queues for a coordinator that is not connected: the spool holds it instead.
    m_socket.set(zmq::sockopt::immediate, 1);
    m_socket.set(zmq::sockopt::reconnect_ivl, k_reconnect_ms);
    m_socket.set(zmq::sockopt::reconnect_ivl_max, k_reconnect_max_ms);
    m_socket.set(zmq::sockopt::maxmsgsize,
                 static_cast<std::int64_t>(protocol::Limits::k_max_frame_bytes));
    m_socket.set(zmq::sockopt::curve_serverkey, m_settings.coordinator_key);
    m_socket.set(zmq::sockopt::curve_publickey, m_settings.keys.public_key);
    m_socket.set(zmq::sockopt::curve_secretkey, m_settings.keys.secret_key);
    m_socket.connect(m_settings.endpoint);
  } catch (const zmq::error_t& e) {
    return fail(ErrorCode::io,
                "connecting to the coordinator at " + m_settings.endpoint + ": " + e.what());
  }
  if (auto watching = m_watcher.start(); !watching) {
    return watching;
  }
  uv_timer_init(&m_loop, &m_heartbeat_timer);
  m_heartbeat_timer.data = this;
  uv_timer_init(&m_loop, &m_answer_timer);
  m_answer_timer.data = this;
  uv_timer_start(&m_heartbeat_timer, &CoordinatorLink::on_heartbeat_timer, 0, 0);
  return {};
}

protocol::Envelope CoordinatorLink::envelope(std::uint64_t seq) const {
  protocol::Envelope envelope;
  envelope.agent_id = m_settings.agent_id;
  envelope.seq = seq;
  envelope.sent_at_ms = m_clock.now_unix_ms();
  return envelope;
}

bool CoordinatorLink::send_frame(std::string_view frame) noexcept {
  bool sent = false;
  try {
    sent = m_socket.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)
               .has_value();
  } catch (const zmq::error_t& e) {
    warn("sending to the coordinator failed", e.what());
  }
  // The send may have consumed the ZMQ_FD edge that announced an incoming message.
  m_watcher.kick();
  return sent;
}

void CoordinatorLink::on_heartbeat_timer(uv_timer_t* timer) noexcept {
  static_cast<CoordinatorLink*>(timer->data)->heartbeat();
}

std::uint64_t CoordinatorLink::asking_interval() const noexcept {
  const auto interval = static_cast<std::uint64_t>(m_settings.heartbeat_interval.count());
  return m_alive ? interval : std::min<std::uint64_t>(interval, k_lost_ask_ms);
}

void CoordinatorLink::tick(std::int64_t slack_ms) noexcept {
  m_tick_slack_ms = slack_ms;
  const auto interval = static_cast<std::int64_t>(asking_interval());
  if (m_clock.monotonic_ms() - m_last_asked_ms + tick_slack(interval) >= interval) {
    heartbeat();
  }
}

std::int64_t CoordinatorLink::tick_slack(std::int64_t interval) const noexcept {
  // Only when the owner ticks at least as often as heartbeats are due.
  return interval >= 2 * m_tick_slack_ms ? m_tick_slack_ms : 0;
}

void CoordinatorLink::arm_heartbeat() noexcept {
  // With ticks, the timer fires only if they stop: the next tick may come a little later than
  // an interval from now (libuv re-arms repeating timers from when they ran), so it gets slack.
  const auto interval = static_cast<std::int64_t>(asking_interval());
  uv_timer_start(&m_heartbeat_timer, &CoordinatorLink::on_heartbeat_timer,
                 static_cast<std::uint64_t>(interval + tick_slack(interval)), 0);
}

void CoordinatorLink::heartbeat() noexcept {
  const std::int64_t now_ms = m_clock.monotonic_ms();
  m_last_asked_ms = now_ms;
  if (m_alive && now_ms - m_last_heard_ms >= m_settings.dead_after.count()) {
    lose("silent for " + std::to_string(now_ms - m_last_heard_ms) + " ms");
  }
  if (m_alive) {
    ping();
  } else {
    (void)send_heartbeat(); // until it answers; nobody waits for this echo
  }
  m_delivery.tick();
  arm_heartbeat();
}

bool CoordinatorLink::send_heartbeat() noexcept {
  const auto& spool = m_delivery.spool_stats();
  m_frame.clear();
  protocol::encode_heartbeat(m_frame, envelope(0), {spool.batches, spool.bytes});
  if (!send_frame(m_frame)) {
    return false;
  }
  ++m_counters.heartbeats_sent;
  return true;
}

void CoordinatorLink::ping() noexcept {
  if (m_awaiting_answer) {
    return; // the answer timer is running already
  }
  // Waited for even when ZeroMQ could not take it (no connection): no echo is lost then too.
  (void)send_heartbeat();
  m_awaiting_answer = true;
  const auto wait = std::min(m_settings.answer_within, m_settings.dead_after);
  uv_timer_start(
      &m_answer_timer,
      [](uv_timer_t* timer) noexcept {
        auto* self = static_cast<CoordinatorLink*>(timer->data);
        self->m_awaiting_answer = false;
        if (self->m_alive) {
          self->lose(
              "a HEARTBEAT unanswered for " +
              std::to_string(
                  std::min(self->m_settings.answer_within, self->m_settings.dead_after).count()) +
              " ms");
        }
      },
      static_cast<std::uint64_t>(wait.count()), 0);
}

void CoordinatorLink::lose(const std::string& why) noexcept {
  m_alive = false;
  m_awaiting_answer = false;
  uv_timer_stop(&m_answer_timer);
  ++m_counters.times_lost;
  m_delivery.on_link_down();
  arm_heartbeat(); // asks more often now
  spdlog::warn("coordinator {} counted as lost ({}); batches stay in the spool ({} held)",
               m_settings.endpoint, why, m_delivery.spool_stats().batches);
}

void CoordinatorLink::send_hello() noexcept {
  m_frame.clear();
  protocol::encode_hello(m_frame, envelope(0), m_settings.hello);
  if (!send_frame(m_frame)) {
    warn("HELLO not sent", "the coordinator is not connected; it will ask again");
  }
}

void CoordinatorLink::send_batch(std::span<const protocol::SampleView> samples) noexcept {
  protocol::BatchView view;
  view.samples = samples;
  send_batch(view);
}

void CoordinatorLink::send_batch(const protocol::BatchView& batch, SpoolWrite also) noexcept {
  const std::uint64_t seq = m_delivery.take_seq();
  const auto& spool = m_delivery.spool_stats();
  protocol::BatchView view = batch;
  view.dropped = {spool.dropped_batches, spool.dropped_items, spool.dropped_bytes};
  m_frame.clear();
  protocol::encode_batch(m_frame, envelope(seq), view);
  const bool urgent = !batch.signals.empty() || !batch.results.empty() || !batch.budgets.empty() ||
                      !batch.evidence.empty();
  const bool events = urgent || !batch.logs.empty();
  const auto items = batch.samples.size() + batch.signals.size() + batch.logs.size() +
                     batch.results.size() + batch.budgets.size() + batch.evidence.size();
  m_delivery.submit(seq, events ? SpoolClass::events : SpoolClass::samples,
                    static_cast<std::uint32_t>(items), std::string(m_frame), std::move(also));
  if (urgent && m_alive) {
    ping(); // someone may have to act on these: learn now whether the coordinator listens
  }
}

void CoordinatorLink::on_readable() {
  zmq::message_t message;
  if (!m_socket.recv(message, zmq::recv_flags::dontwait)) {
    return;
  }
  // The coordinator sends single-frame messages; drop any extra frames of a multipart one.
  const bool multipart = message.more();
  for (bool more = multipart; more;) {
    zmq::message_t extra;
    if (!m_socket.recv(extra, zmq::recv_flags::dontwait)) {
      break;
    }
    more = extra.more();
  }
  if (multipart) {
    ++m_counters.malformed_received;
    warn("malformed message from the coordinator", "multipart");
    return;
  }
  auto decoded = protocol::decode(message.to_string_view());
  if (!decoded) {
    ++m_counters.malformed_received;
    warn("malformed message from the coordinator", decoded.error().message());
    return;
  }
  heard_from_coordinator();
  on_message(*decoded);
}

void CoordinatorLink::heard_from_coordinator() {
  m_last_heard_ms = m_clock.monotonic_ms();
  if (m_awaiting_answer) {
    m_awaiting_answer = false;
    uv_timer_stop(&m_answer_timer);
  }
  if (!m_alive) {
    m_alive = true;
    arm_heartbeat(); // asks less often now
    spdlog::info("coordinator {} is alive; resending {} unacked batches", m_settings.endpoint,
                 m_delivery.spool_stats().batches);
    send_hello();
    m_delivery.on_link_up();
  }
}

void CoordinatorLink::on_message(const protocol::Message& message) {
  if (const auto* ack = std::get_if<protocol::Ack>(&message.body)) {
    m_delivery.on_ack(ack->acked_seq);
  } else if (const auto* command = std::get_if<protocol::Command>(&message.body)) {
    on_command(*command);
  } else if (const auto* policy = std::get_if<protocol::Policy>(&message.body)) {
    ++m_counters.policies_received;
    if (m_policy_handler) {
      m_policy_handler(*policy);
    }
  } else if (const auto* error = std::get_if<protocol::ErrorReply>(&message.body)) {
    ++m_counters.errors_received;
    if (error->code == "hello-required") {
      send_hello();
    } else {
      warn("the coordinator refused a message",
           error->code + " (seq " +
               (error->ref_seq ? std::to_string(*error->ref_seq) : std::string("?")) +
               "): " + error->message);
    }
  }
  // HEARTBEAT needs nothing beyond the sign of life already noted.
}

void CoordinatorLink::on_command(const protocol::Command& command) {
  if (m_command_handler) {
    m_command_handler(command);
    return;
  }
  protocol::CommandResult result;
  result.command_id = command.id;
  result.started_ms = m_clock.now_unix_ms();
  switch (m_guard.check(command, result.started_ms)) {
  case CommandVerdict::expired:
    result.status = protocol::ResultStatus::expired;
    result.reason = "arrived after its deadline";
    break;
  case CommandVerdict::duplicate:
    result.status = protocol::ResultStatus::duplicate;
    result.reason = "this command id was seen before";
    break;
  case CommandVerdict::overloaded:
    result.status = protocol::ResultStatus::rejected;
    result.reason = "too many live commands";
    break;
  case CommandVerdict::run:
    result.status = protocol::ResultStatus::rejected;
    result.reason = "action '" + command.action + "' is not in this agent's catalog";
    break;
  }
  ++m_counters.commands_refused;
  result.finished_ms = m_clock.now_unix_ms();
  m_frame.clear();
  protocol::encode_result(m_frame, envelope(0), result);
  (void)send_frame(m_frame);
}

void CoordinatorLink::warn(std::string_view what, std::string_view detail) noexcept {
  std::uint64_t suppressed = 0;
  if (m_log_limit.allow(m_clock.monotonic_ms(), suppressed)) {
    spdlog::warn("{}: {}", what, detail);
  }
}

void CoordinatorLink::close() noexcept {
  uv::close_handle(m_heartbeat_timer);
  uv::close_handle(m_answer_timer);
  m_watcher.close();
  m_delivery.stop();
  m_socket.close();
}

} // namespace medic::agent::link
