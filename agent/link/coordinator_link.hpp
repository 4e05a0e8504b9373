// SPDX-License-Identifier: Apache-2.0
// The agent's side of the wire: one CURVE-secured ZeroMQ DEALER to the coordinator, driven from
// the libuv loop. Sends HELLO, BATCH (through Delivery and its spool) and HEARTBEAT; reads ACK,
// HEARTBEAT, COMMAND, ERROR and POLICY; knows whether its coordinator is alive.
//
// Liveness: a HEARTBEAT goes every heartbeat_interval, and one more at once with a batch that
// carries signals or action results (unless one is still unanswered). The coordinator answers
// each at once. One left unanswered for answer_within, or nothing heard for dead_after, and the
// coordinator counts as lost. So a quiet agent costs one round trip per interval, and an agent
// with something to report learns within answer_within that nobody is listening. While lost,
// it asks every second, so a returning coordinator is noticed within one.
// Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include <uv.h>
#include <zmq.hpp>

#include "agent/link/command_guard.hpp"
#include "agent/link/delivery.hpp"
#include "protocol/message.hpp"
#include "shared/clock.hpp"
#include "shared/error.hpp"
#include "shared/log/logging.hpp"
#include "shared/security/curve_keys.hpp"
#include "shared/uv/zmq_watcher.hpp"

namespace medic::agent::link {

struct LinkSettings {
  std::string endpoint;
  std::string agent_id;
  protocol::Hello hello;
  int send_queue = 100;
  security::CurveKeyPair keys;
  std::string coordinator_key; // Z85
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds dead_after{15'000};
  std::chrono::milliseconds answer_within{3000}; // a HEARTBEAT's echo; at most dead_after
  DeliverySettings delivery;
};

struct LinkCounters {
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t errors_received = 0;
  std::uint64_t malformed_received = 0;
  std::uint64_t commands_refused = 0;
  std::uint64_t times_lost = 0; // a HEARTBEAT went unanswered, or silence for dead_after
  std::uint64_t policies_received = 0;
};

class CoordinatorLink {
public:
  CoordinatorLink(uv_loop_t& loop, zmq::context_t& context, const Clock& clock, Spool spool,
                  LinkSettings settings);
  CoordinatorLink(const CoordinatorLink&) = delete;
  CoordinatorLink& operator=(const CoordinatorLink&) = delete;

  // Connects (ZeroMQ reconnects by itself from then on) and starts heartbeats.
  [[nodiscard]] Result<void> start();
  // Encodes one batch with the next sequence number and hands it to the spool. Never blocks.
  void send_batch(std::span<const protocol::SampleView> samples) noexcept;
  // Any batch: samples are spooled as SpoolClass::samples, a batch with signals or log events
  // as SpoolClass::events (kept longest when the spool is full). `also` commits with it.
  void send_batch(const protocol::BatchView& batch, SpoolWrite also = {}) noexcept;
  // State to commit to the spool database in order after the batches sent before (see
  // Delivery::save_state).
  // The owner's periodic tick: a HEARTBEAT due within `slack_ms` goes now, in the owner's
  // wake-up; the link's own timer then only serves an owner that stopped ticking.
  void tick(std::int64_t slack_ms) noexcept;
  [[nodiscard]] bool save_state(SpoolWrite write) {
    return m_delivery.save_state(std::move(write));
  }
  // Whether the coordinator is answering (see the liveness note above): the fallback healer's
  // switch.
  [[nodiscard]] bool coordinator_alive() const noexcept { return m_alive; }
  // Who runs COMMANDs (the agent's Acting). Without one, every command is answered `rejected`
  // (after the deadline and replay checks).
  using CommandHandler = std::function<void(const protocol::Command&)>;
  void on_commands(CommandHandler handler) { m_command_handler = std::move(handler); }
  // Who takes the coordinator's POLICY (the agent's Acting). Without one it is ignored. A
  // POLICY that does not decode is counted and logged like any malformed frame.
  using PolicyHandler = std::function<void(const protocol::Policy&)>;
  void on_policy(PolicyHandler handler) { m_policy_handler = std::move(handler); }
  // Stops heartbeats, lets the spool worker write what it holds, closes the socket.
  void close() noexcept;

  [[nodiscard]] const LinkCounters& counters() const noexcept { return m_counters; }
  [[nodiscard]] const Delivery& delivery() const noexcept { return m_delivery; }

private:
  static void on_heartbeat_timer(uv_timer_t* timer) noexcept;
  void heartbeat() noexcept;
  // Sends a HEARTBEAT and starts waiting for its echo, unless one is unanswered already.
  void ping() noexcept;
  [[nodiscard]] bool send_heartbeat() noexcept;
  void lose(const std::string& why) noexcept;
  // HEARTBEAT interval: heartbeat_interval while alive, at most 1 s while lost.
  [[nodiscard]] std::uint64_t asking_interval() const noexcept;
  // The owner's tick slack, if it ticks at least twice per `interval`; else 0.
  [[nodiscard]] std::int64_t tick_slack(std::int64_t interval) const noexcept;
  // The next heartbeat(): one interval (and the tick slack) from now.
  void arm_heartbeat() noexcept;
  void send_hello() noexcept;
  bool send_frame(std::string_view frame) noexcept;
  void on_readable();
  void on_message(const protocol::Message& message);
  void on_command(const protocol::Command& command);
  void heard_from_coordinator();
  [[nodiscard]] protocol::Envelope envelope(std::uint64_t seq) const;
  void warn(std::string_view what, std::string_view detail) noexcept;

  uv_loop_t& m_loop;
  const Clock& m_clock;
  LinkSettings m_settings;
  zmq::socket_t m_socket;
  uv::ZmqWatcher m_watcher;
  Delivery m_delivery;
  CommandGuard m_guard;
  CommandHandler m_command_handler;
  PolicyHandler m_policy_handler;
  uv_timer_t m_heartbeat_timer{};
  uv_timer_t m_answer_timer{}; // runs while a HEARTBEAT waits for its echo
  std::string m_frame;         // reused encoding buffer
  std::int64_t m_last_heard_ms = 0;
  std::int64_t m_last_asked_ms = 0; // monotonic, the last heartbeat()
  std::int64_t m_tick_slack_ms = 0; // from the owner's tick(); 0 without ticks
  bool m_alive = false;
  bool m_awaiting_answer = false;
  LinkCounters m_counters;
  log::RateLimiter m_log_limit{5, 10'000};
};

} // namespace medic::agent::link
