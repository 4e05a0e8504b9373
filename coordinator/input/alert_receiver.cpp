// SPDX-License-Identifier: Apache-2.0
#include "coordinator/input/alert_receiver.hpp"

#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <charconv>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <list>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "shared/clock.hpp"
#include "shared/uv/handle.hpp"

namespace medic::coordinator::input {

namespace {

constexpr std::size_t k_http_threads = 2;
constexpr std::size_t k_waiting_connections = 16;
constexpr std::size_t k_max_token_bytes = 4096;
constexpr time_t k_read_timeout_s = 3;
constexpr time_t k_keep_alive_timeout_s = 2;

// httplib's own ThreadPool queues accepted connections without limit. This one makes the
// accepting thread (ours, never the loop) wait while k_waiting_connections are queued, so
// further clients wait in the kernel's backlog instead of in our memory.
class BoundedPool final : public httplib::TaskQueue {
public:
  explicit BoundedPool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) {
      m_threads.emplace_back([this] { work(); });
    }
  }
  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(m_mutex);
    m_space.wait(lock, [this] { return m_jobs.size() < k_waiting_connections || m_shutdown; });
    m_jobs.push_back(std::move(fn));
    m_ready.notify_one();
  }
  void shutdown() override {
    {
      std::lock_guard lock(m_mutex);
      m_shutdown = true;
    }
    m_ready.notify_all();
    m_space.notify_all();
    for (auto& t : m_threads) {
      t.join();
    }
  }

private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(m_mutex);
        m_ready.wait(lock, [this] { return m_shutdown || !m_jobs.empty(); });
        if (m_jobs.empty()) {
          return;
        }
        fn = std::move(m_jobs.front());
        m_jobs.pop_front();
      }
      m_space.notify_one();
      fn();
    }
  }

  std::mutex m_mutex;
  std::condition_variable m_ready;
  std::condition_variable m_space;
  std::list<std::function<void()>> m_jobs;
  bool m_shutdown = false;
  std::vector<std::thread> m_threads;
};

struct HostPort {
  std::string host; // without brackets, as getaddrinfo wants it
  int port = 0;
};

Result<HostPort> split_listen(std::string_view listen, bool allow_port_zero) {
  const auto bad = [listen](std::string_view what) {
    return fail(ErrorCode::config, "'" + std::string(listen) + "': " + std::string(what) +
                                       " (expected address:port, e.g. 127.0.0.1:9097)");
  };
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return bad("no address");
  }
  HostPort out;
  const std::string_view port = listen.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || out.port > 65535 ||
      out.port < (allow_port_zero ? 0 : 1)) {
    return bad("the port must be a number from 1 to 65535");
  }
  std::string_view host = listen.substr(0, colon);
  unsigned char binary[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    out.host = std::string(host.substr(1, host.size() - 2));
    if (inet_pton(AF_INET6, out.host.c_str(), binary) != 1) {
      return bad("not an IPv6 address between the brackets");
    }
    return out;
  }
  out.host = std::string(host);
  if (out.host != "localhost" && inet_pton(AF_INET, out.host.c_str(), binary) != 1) {
    return bad("the address must be numeric IPv4, [IPv6] or localhost");
  }
  return out;
}

Result<std::string> read_token(const std::string& path) {
  const auto where = "alertmanager_input.token_file '" + path + "'";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(ErrorCode::config, errno_text(where, errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorCode::config, where + ": not a regular file");
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    return fail(ErrorCode::permission,
                where + ": readable or writable by everyone; chmod 0600 (or 0640) it");
  }
  std::ifstream in(path, std::ios::binary);
  std::string token(k_max_token_bytes + 1, '\0');
  in.read(token.data(), static_cast<std::streamsize>(token.size()));
  token.resize(static_cast<std::size_t>(in.gcount()));
  if (token.size() > k_max_token_bytes) {
    return fail(ErrorCode::config, where + ": longer than 4096 bytes");
  }
  const auto last = token.find_last_not_of(" \t\r\n");
  token.resize(last == std::string::npos ? 0 : last + 1);
  if (token.empty() || token.find_first_of(" \t\r\n") != std::string::npos) {
    return fail(ErrorCode::config, where + ": empty, or the token holds white space");
  }
  return token;
}

// Time independent of where the first difference is; the length may show (it is no secret
// worth the trouble: Alertmanager sends the configured token or nothing).
bool same_secret(std::string_view given, std::string_view expected) noexcept {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char g = given.empty() ? '\0' : given[i % given.size()];
    diff |= static_cast<unsigned char>(g ^ expected[i]);
  }
  return diff == 0;
}

void reply(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_content(text + "\n", "text/plain");
}

// A refusal sent before the body was read: the connection cannot carry another request.
void refuse_early(const httplib::Request& req, httplib::Response& res, int status,
                  const std::string& text) {
  reply(res, status, text);
  if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
    res.set_header("Connection", "close");
  }
}

} // namespace

void add_alert_input_keys(medic::config::Schema& schema, AlertInputConfig& config) {
  schema.add_string("alertmanager_input.listen", config.listen,
                    "Where Alertmanager's webhook receiver posts to (POST " +
                        std::string(k_alertmanager_path) +
                        "), address:port, e.g. 127.0.0.1:9097; empty: the input is off",
                    [](const std::string& text) -> Result<void> {
                      return text.empty() ? Result<void>{} : check_listen(text);
                    });
  schema.add_string("alertmanager_input.token_file", config.token_file,
                    "File holding the bearer token Alertmanager must send (its receiver's "
                    "http_config.authorization.credentials); must not be world-readable; "
                    "empty: no authentication (loopback only, please)");
  schema.add_integer("alertmanager_input.queue", config.queue, std::size_t{1}, std::size_t{100'000},
                     "Webhook deliveries waiting for the coordinator's loop; when full the "
                     "webhook gets 503 and Alertmanager retries");
}

Result<void> check_listen(std::string_view listen, bool allow_port_zero) {
  auto parsed = split_listen(listen, allow_port_zero);
  if (!parsed) {
    return fail(std::move(parsed).error());
  }
  return {};
}

AlertReceiver::AlertReceiver(const AlertInputConfig& config, AlertListener& listener,
                             std::string token)
    : m_listener(listener),
      m_token(std::move(token)),
      m_capacity(config.queue == 0 ? 1 : config.queue),
      m_server(std::make_unique<httplib::Server>()) {}

AlertReceiver::~AlertReceiver() {
  close();
}

Result<std::unique_ptr<AlertReceiver>> AlertReceiver::start(uv_loop_t& loop,
                                                            const AlertInputConfig& config,
                                                            AlertListener& listener) {
  std::string token;
  if (!config.token_file.empty()) {
    auto read = read_token(config.token_file);
    if (!read) {
      return fail(std::move(read).error().context("Alertmanager input"));
    }
    token = std::move(*read);
  }
  std::unique_ptr<AlertReceiver> receiver(new AlertReceiver(config, listener, std::move(token)));
  if (auto ok = receiver->bind(loop, config.listen); !ok) {
    return fail(std::move(ok).error().context("Alertmanager input"));
  }
  spdlog::info("Alertmanager input: listening on {} (port {}), POST {}{}", config.listen,
               receiver->m_port, k_alertmanager_path,
               receiver->m_token.empty() ? ", no token required" : "");
  return receiver;
}

Result<void> AlertReceiver::bind(uv_loop_t& loop, const std::string& listen) {
  auto where = split_listen(listen, true);
  if (!where) {
    return fail(std::move(where).error());
  }
  install_routes();
  int port = where->port;
  if (port == 0) {
    port = m_server->bind_to_any_port(where->host);
  } else if (!m_server->bind_to_port(where->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return fail(ErrorCode::io, "cannot listen on " + listen + " (address taken or not local?)");
  }
  m_port = static_cast<std::uint16_t>(port);
  // Only now, so a failed bind leaves no handle behind for a destroyed object.
  uv_async_init(&loop, &m_async, &AlertReceiver::on_async);
  m_async.data = this;
  m_thread = std::thread([this] {
    m_server->listen_after_bind();
    m_listen_returned = true;
  });
  pthread_setname_np(m_thread.native_handle(), "medic-alert-in");
  return {};
}

void AlertReceiver::install_routes() {
  auto& s = *m_server;
  s.new_task_queue = [] { return new BoundedPool(k_http_threads); };
  // httplib's default adds SO_REUSEPORT: a second coordinator would then share our port
  // silently instead of failing to start.
  s.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Over it, httplib reads and discards the body (bounded) and answers 413 (counted below).
  s.set_payload_max_length(escalate::k_max_webhook_body_bytes);
  s.set_read_timeout(k_read_timeout_s, 0);
  s.set_write_timeout(k_read_timeout_s, 0);
  s.set_keep_alive_timeout(k_keep_alive_timeout_s);
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return screen(req, res) ? httplib::Server::HandlerResponse::Unhandled
                            : httplib::Server::HandlerResponse::Handled;
  });
  s.Post(k_alertmanager_path,
         [this](const httplib::Request& req, httplib::Response& res) { accept(req, res); });
  // Reached only by replies without a body of ours: httplib's own 413 for an oversized
  // chunked body, and its 400 for a malformed request line.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (res.status == 413) {
          ++m_counters.too_large;
        }
        if (res.body.empty()) {
          reply(res, res.status, "refused");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
}

bool AlertReceiver::screen(const httplib::Request& req, httplib::Response& res) noexcept {
  try {
    const bool reading = req.method == "GET" || req.method == "HEAD";
    if (req.path == k_healthy_path) {
      reading ? reply(res, 200, "OK") : refuse_early(req, res, 405, "use GET");
      res.set_header("Allow", "GET, HEAD");
      return false;
    }
    if (req.path != k_alertmanager_path || req.method != "POST") {
      ++m_counters.wrong_route;
      const bool ours = req.path == k_alertmanager_path;
      refuse_early(req, res, ours ? 405 : 404,
                   ours ? "use POST"
                        : std::string("not found; Alertmanager posts to ") + k_alertmanager_path);
      if (ours) {
        res.set_header("Allow", "POST");
      }
      return false;
    }
    if (!m_token.empty()) {
      const std::string given = req.get_header_value("Authorization");
      constexpr std::string_view scheme = "Bearer ";
      const bool bearer = given.size() > scheme.size() && given.starts_with(scheme);
      if (!same_secret(bearer ? std::string_view(given).substr(scheme.size()) : "", m_token)) {
        ++m_counters.unauthorized;
        complain("refused a delivery", req.remote_addr,
                 given.empty() ? "no Authorization header" : "wrong bearer token");
        refuse_early(req, res, 401, "a valid 'Authorization: Bearer <token>' is required");
        res.set_header("WWW-Authenticate", "Bearer");
        return false;
      }
    }
    return true;
  } catch (const std::exception& e) {
    reply(res, 500, "internal error");
    res.set_header("Connection", "close");
    return false;
  }
}

void AlertReceiver::accept(const httplib::Request& req, httplib::Response& res) noexcept {
  try {
    const std::int64_t received_ms = SystemClock().now_unix_ms();
    auto alerts = escalate::parse_alertmanager_webhook(req.body);
    if (!alerts) {
      ++m_counters.bad_payload;
      complain("refused a delivery", req.remote_addr, alerts.error().message());
      reply(res, 400, alerts.error().message());
      return;
    }
    const std::size_t count = alerts->size();
    if (!offer({std::move(*alerts), received_ms})) {
      ++m_counters.queue_full;
      complain("refused a delivery", req.remote_addr, "the queue is full (503, it will retry)");
      reply(res, 503, "busy, retry later");
      res.set_header("Retry-After", "1");
      return;
    }
    ++m_counters.accepted;
    m_counters.alerts += count;
    reply(res, 200, "accepted " + std::to_string(count) + " alerts");
  } catch (const std::exception& e) {
    reply(res, 500, "internal error");
  }
}

bool AlertReceiver::offer(Delivery delivery) noexcept {
  {
    std::lock_guard lock(m_mutex);
    if (m_closing || m_queue.size() >= m_capacity) {
      return false;
    }
    m_queue.push_back(std::move(delivery));
  }
  uv_async_send(&m_async);
  return true;
}

void AlertReceiver::on_async(uv_async_t* handle) noexcept {
  static_cast<AlertReceiver*>(handle->data)->drain();
}

void AlertReceiver::drain() noexcept {
  std::deque<Delivery> ready;
  {
    std::lock_guard lock(m_mutex);
    ready.swap(m_queue);
  }
  for (auto& delivery : ready) {
    m_listener.on_alerts(std::move(delivery.alerts), delivery.received_ms);
    ++m_counters.handed_over;
  }
}

void AlertReceiver::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  {
    std::lock_guard lock(m_mutex);
    m_closing = true;
  }
  if (m_thread.joinable()) {
    // stop() does nothing until listen has begun; the thread may not have got there yet.
    while (!m_server->is_running() && !m_listen_returned) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    m_server->stop();
    m_thread.join();
  }
  drain();
  uv::close_handle(m_async);
}

AlertReceiver::Counters AlertReceiver::counters() const noexcept {
  const auto& c = m_counters;
  return {c.accepted,  c.alerts,      c.handed_over, c.unauthorized,
          c.too_large, c.bad_payload, c.queue_full,  c.wrong_route};
}

void AlertReceiver::complain(std::string_view what, const std::string& peer,
                             std::string_view detail) noexcept {
  std::uint64_t suppressed = 0;
  std::lock_guard lock(m_log_mutex);
  if (m_log_limit.allow(SystemClock().monotonic_ms(), suppressed)) {
    spdlog::warn("Alertmanager input: {} from {}: {}{}", what, peer, detail,
                 suppressed > 0 ? fmt::format(" ({} similar lines suppressed)", suppressed) : "");
  }
}

} // namespace medic::coordinator::input
