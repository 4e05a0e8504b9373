// SPDX-License-Identifier: Apache-2.0
#include "coordinator/metrics/metrics_server.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <deque>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "coordinator/metrics/exposition.hpp"
#include "shared/uv/handle.hpp"

namespace medic::coordinator::metrics {

namespace {

constexpr std::size_t k_waiting_connections = 8;
constexpr time_t k_timeout_s = 3;

// One HTTP thread (a scrape every few seconds is all it serves); accepted connections beyond
// k_waiting_connections wait in the kernel's backlog, not in our memory (httplib's own pool
// queues without limit).
class SingleThreadPool final : public httplib::TaskQueue {
public:
  SingleThreadPool() : m_thread([this] { work(); }) {}
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
    m_thread.join();
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
  std::deque<std::function<void()>> m_jobs;
  bool m_shutdown = false;
  std::thread m_thread; // last: starts when the rest exists
};

double seconds_since_epoch() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Resident set size from /proc/self/statm (second field, in pages); 0 when unreadable.
double resident_bytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "re");
  if (file == nullptr) {
    return 0;
  }
  unsigned long size = 0;
  unsigned long resident = 0;
  const int read = std::fscanf(file, "%lu %lu", &size, &resident);
  std::fclose(file);
  return read == 2 ? static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE))
                   : 0;
}

} // namespace

MetricsServer::MetricsServer(Registry& registry, Collect collect)
    : m_registry(registry),
      m_collect(std::move(collect)),
      m_server(std::make_unique<httplib::Server>()),
      m_scrapes(
          registry.counter("medic_metrics_scrapes_total", "Requests for /metrics answered").get()),
      m_timeouts(registry
                     .counter("medic_metrics_collect_timeouts_total",
                              "Scrapes served without a fresh collection because the event loop "
                              "did not answer within 250 ms (figures owned by the loop are then "
                              "those of the previous scrape)")
                     .get()),
      m_collect_seconds(registry
                            .gauge("medic_metrics_collect_seconds",
                                   "Time the last scrape waited for the event loop to collect")
                            .get()),
      m_cpu_seconds(
          registry.real_counter("process_cpu_seconds_total", "User and system CPU time spent")
              .get()),
      m_resident_bytes(
          registry.gauge("process_resident_memory_bytes", "Resident memory size").get()),
      m_start_time(
          registry
              .gauge("process_start_time_seconds", "Start time of the process since the Unix epoch")
              .get()) {
  m_start_time.set(seconds_since_epoch());
}

MetricsServer::~MetricsServer() {
  close();
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(uv_loop_t& loop,
                                                            std::string_view listen,
                                                            Registry& registry, Collect collect) {
  auto where = parse_loopback_listen(listen, true);
  if (!where) {
    return fail(std::move(where).error().context("metrics.listen"));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer(registry, std::move(collect)));
  if (auto bound = server->bind(loop, *where); !bound) {
    return fail(std::move(bound).error());
  }
  return server;
}

Result<void> MetricsServer::bind(uv_loop_t& loop, const LoopbackAddress& where) {
  install_routes();
  int port = where.port;
  if (port == 0) {
    port = m_server->bind_to_any_port(where.host);
  } else if (!m_server->bind_to_port(where.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return fail(ErrorCode::io, "metrics.listen: cannot listen on " + where.host + ":" +
                                   std::to_string(where.port) +
                                   " (is the port taken? another medic-coordinator?)");
  }
  m_port = static_cast<std::uint16_t>(port);
  // Only now, so a failed bind leaves no handle behind for a destroyed object.
  uv_async_init(&loop, &m_async, &MetricsServer::on_async);
  m_async.data = this;
  m_thread = std::thread([this] {
    m_server->listen_after_bind();
    m_listen_returned = true;
  });
  pthread_setname_np(m_thread.native_handle(), "medic-metrics");
  return {};
}

void MetricsServer::install_routes() {
  auto& s = *m_server;
  s.new_task_queue = [] { return new SingleThreadPool(); };
  // httplib's default adds SO_REUSEPORT: a second coordinator would share our port silently.
  s.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.set_payload_max_length(4096); // a scrape has no body
  s.set_read_timeout(k_timeout_s, 0);
  s.set_write_timeout(k_timeout_s, 0);
  s.set_keep_alive_timeout(k_timeout_s);
  s.Get(k_metrics_path, [this](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(scrape(), k_text_content_type);
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(std::string("rendering the metrics failed: ") + e.what() + "\n",
                      "text/plain");
    }
  });
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("medic-coordinator: metrics at /metrics\n", "text/plain");
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(res.status == 404 ? "not found: GET /metrics\n" : "refused\n", "text/plain");
    }
  });
}

std::string MetricsServer::scrape() {
  std::lock_guard scrape_lock(m_scrape_mutex);
  const auto started = std::chrono::steady_clock::now();
  if (!request_collection()) {
    m_timeouts.inc();
  }
  m_collect_seconds.set(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  update_process_figures();
  m_scrapes.inc();
  return m_registry.render();
}

bool MetricsServer::request_collection() {
  std::unique_lock lock(m_mutex);
  if (m_closing) {
    return false;
  }
  const std::uint64_t wanted = ++m_requested;
  // Thread-safe; the handle is closed only after m_closing is set (under this mutex) and this
  // thread is joined.
  uv_async_send(&m_async);
  return m_collected_cv.wait_for(lock, k_collect_timeout, [&] {
    return m_collected >= wanted || m_closing;
  }) && m_collected >= wanted;
}

void MetricsServer::on_async(uv_async_t* handle) noexcept {
  auto* self = static_cast<MetricsServer*>(handle->data);
  std::uint64_t target = 0;
  {
    std::lock_guard lock(self->m_mutex);
    target = self->m_requested;
  }
  try {
    if (self->m_collect) {
      self->m_collect();
    }
  } catch (const std::exception& e) {
    spdlog::error("collecting metrics: {}", e.what());
  }
  {
    std::lock_guard lock(self->m_mutex);
    self->m_collected = target;
  }
  self->m_collected_cv.notify_all();
}

void MetricsServer::update_process_figures() noexcept {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    const auto seconds = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    m_cpu_seconds.set(seconds(usage.ru_utime) + seconds(usage.ru_stime));
  }
  m_resident_bytes.set(resident_bytes());
}

void MetricsServer::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  {
    std::lock_guard lock(m_mutex);
    m_closing = true;
  }
  m_collected_cv.notify_all();
  if (m_thread.joinable()) {
    // stop() does nothing until listen has begun; the thread may not have got there yet.
    while (!m_server->is_running() && !m_listen_returned) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    m_server->stop();
    m_thread.join();
    uv::close_handle(m_async);
  }
}

} // namespace medic::coordinator::metrics
