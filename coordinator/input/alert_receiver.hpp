// SPDX-License-Identifier: Apache-2.0
// Alertmanager's webhook (payload version 4) as an input: an HTTP server on its own thread that
// takes POST /api/v1/alertmanager, checks the bearer token, parses the payload there and hands
// the alerts to the loop through a bounded queue and a uv_async. The loop never waits on it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <uv.h>

#include "coordinator/escalate/alertmanager_webhook.hpp"
#include "coordinator/input/alert_listener.hpp"
#include "shared/config/schema.hpp"
#include "shared/error.hpp"
#include "shared/log/logging.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace medic::coordinator::input {

inline constexpr const char* k_alertmanager_path = "/api/v1/alertmanager";
inline constexpr const char* k_healthy_path = "/-/healthy";

struct AlertInputConfig {
  std::string listen;     // "" = off (default), else "address:port", e.g. "127.0.0.1:9097"
  std::string token_file; // "" = no auth; else a file (not world-readable) with the bearer token
  std::size_t queue = 64; // deliveries waiting for the loop; beyond, 503 (Alertmanager retries)
};

// alertmanager_input.listen, .token_file, .queue. listen must be a numeric IPv4 address or a
// bracketed IPv6 one (or "localhost") with a port 1-65535; the schema check says which part is
// wrong.
void add_alert_input_keys(medic::config::Schema& schema, AlertInputConfig& config);

// "127.0.0.1:9097", "[::1]:9097", "localhost:9097" -> ok; port 0 is accepted only by start()
// (tests), never by the schema. Errors name the value and what is wrong.
[[nodiscard]] Result<void> check_listen(std::string_view listen, bool allow_port_zero = false);

class AlertReceiver {
public:
  struct Counters {
    std::uint64_t accepted = 0;     // deliveries answered 200
    std::uint64_t alerts = 0;       // alerts in those deliveries
    std::uint64_t handed_over = 0;  // deliveries passed to the listener on the loop
    std::uint64_t unauthorized = 0; // 401: token missing or wrong
    std::uint64_t too_large = 0;    // 413: body over escalate::k_max_webhook_body_bytes
    std::uint64_t bad_payload = 0;  // 400: the parser refused it
    std::uint64_t queue_full = 0;   // 503: the loop had not taken the earlier ones yet
    std::uint64_t wrong_route = 0;  // 404 and 405
  };

  // Loop thread. Reads the token file (refused if world-readable or empty), binds the address
  // (so a taken port fails here, not later) and starts the server thread. `listener` and `loop`
  // must outlive close(). config.listen must not be empty (the caller skips start() when off).
  [[nodiscard]] static Result<std::unique_ptr<AlertReceiver>> start(uv_loop_t& loop,
                                                                    const AlertInputConfig& config,
                                                                    AlertListener& listener);

  AlertReceiver(const AlertReceiver&) = delete;
  AlertReceiver& operator=(const AlertReceiver&) = delete;
  ~AlertReceiver(); // calls close()

  // Loop thread; idempotent. Stops accepting, waits for requests in flight (bounded by the
  // server's read timeout, 3 s), joins the thread, hands deliveries still queued to the listener
  // (they were answered 200) and closes the async handle. The object must outlive the loop turn
  // that runs the close callback, like every handle owner (shared/uv/handle.hpp).
  void close() noexcept;

  // Any thread.
  [[nodiscard]] Counters counters() const noexcept;
  // The bound port (useful with port 0 in tests).
  [[nodiscard]] std::uint16_t port() const noexcept { return m_port; }

private:
  struct Delivery {
    std::vector<escalate::InboundAlert> alerts;
    std::int64_t received_ms = 0;
  };
  struct AtomicCounters {
    std::atomic<std::uint64_t> accepted{0}, alerts{0}, handed_over{0}, unauthorized{0},
        too_large{0}, bad_payload{0}, queue_full{0}, wrong_route{0};
  };

  AlertReceiver(const AlertInputConfig& config, AlertListener& listener, std::string token);
  [[nodiscard]] Result<void> bind(uv_loop_t& loop, const std::string& listen);
  void install_routes();
  // HTTP threads. screen() runs before the body is read (route, method, token, length): false
  // when it already answered. accept() parses the body and queues the alerts.
  [[nodiscard]] bool screen(const httplib::Request& req, httplib::Response& res) noexcept;
  void accept(const httplib::Request& req, httplib::Response& res) noexcept;
  // HTTP threads. False when the queue is full or the receiver is closing.
  [[nodiscard]] bool offer(Delivery delivery) noexcept;
  // Loop thread.
  static void on_async(uv_async_t* handle) noexcept;
  void drain() noexcept;
  // HTTP threads; rate-limited under a mutex since many threads may refuse at once.
  void complain(std::string_view what, const std::string& peer, std::string_view detail) noexcept;

  AlertListener& m_listener;
  std::string m_token;
  std::size_t m_capacity;
  std::unique_ptr<httplib::Server> m_server;
  std::thread m_thread;
  std::atomic<bool> m_listen_returned{false};
  uv_async_t m_async{};
  bool m_closed = false;
  std::uint16_t m_port = 0;

  std::mutex m_mutex; // guards m_queue and m_closing
  std::deque<Delivery> m_queue;
  bool m_closing = false;

  AtomicCounters m_counters;
  std::mutex m_log_mutex;
  log::RateLimiter m_log_limit{10, 10'000};
};

} // namespace medic::coordinator::input
