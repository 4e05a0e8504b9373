// SPDX-License-Identifier: Apache-2.0
// GET /metrics over HTTP on a loopback address, on its own thread (cpp-httplib), in the text
// format 0.0.4. What the libuv loop owns (ingest's counters, the engine's incidents, the peers)
// is not read from the HTTP thread: a scrape posts a collection request to the loop (uv_async)
// and waits for it at most k_collect_timeout. The loop runs the `collect` function, which
// copies those figures into the registry's atomics, and signals back. If the loop does not
// answer in time (busy, or closing) the scrape serves what the last collection left, and
// medic_metrics_collect_timeouts_total says so: a scrape never holds the loop, and the loop
// never waits on a scrape. Figures other threads update themselves (storage latency, the
// sinks' counters) are atomics already and need no collection.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <uv.h>

#include "coordinator/metrics/metrics_config.hpp"
#include "coordinator/metrics/registry.hpp"
#include "shared/error.hpp"

namespace httplib {
class Server;
} // namespace httplib

namespace medic::coordinator::metrics {

inline constexpr const char* k_metrics_path = "/metrics";
inline constexpr std::chrono::milliseconds k_collect_timeout{250};

class MetricsServer {
public:
  // Loop thread: copies what the loop owns into the registry. Must not block.
  using Collect = std::function<void()>;

  // Loop thread, at start-up (registers the server's own series in `registry`, so before any
  // other thread renders it). Binds (a taken port fails here) and starts the HTTP thread.
  // `registry` and `loop` must outlive close().
  [[nodiscard]] static Result<std::unique_ptr<MetricsServer>> start(uv_loop_t& loop,
                                                                    std::string_view listen,
                                                                    Registry& registry,
                                                                    Collect collect);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer(); // close()

  // Loop thread; idempotent. Wakes a scrape waiting for a collection, stops the server, joins
  // its thread and closes the async handle (the object must outlive that loop turn).
  void close() noexcept;

  [[nodiscard]] std::uint16_t port() const noexcept { return m_port; }

private:
  MetricsServer(Registry& registry, Collect collect);
  [[nodiscard]] Result<void> bind(uv_loop_t& loop, const LoopbackAddress& where);
  void install_routes();
  // HTTP thread: the body of one scrape.
  [[nodiscard]] std::string scrape();
  // HTTP thread: asks the loop to collect and waits for it, at most k_collect_timeout. False
  // when it timed out or the server is closing.
  [[nodiscard]] bool request_collection();
  void update_process_figures() noexcept;
  static void on_async(uv_async_t* handle) noexcept;

  Registry& m_registry;
  Collect m_collect;
  std::unique_ptr<httplib::Server> m_server;
  std::thread m_thread;
  std::atomic<bool> m_listen_returned{false};
  uv_async_t m_async{};
  bool m_closed = false;
  std::uint16_t m_port = 0;

  std::mutex m_mutex; // guards the three below
  std::condition_variable m_collected_cv;
  std::uint64_t m_requested = 0; // collections asked for
  std::uint64_t m_collected = 0; // the request number the last collection answered
  bool m_closing = false;
  std::mutex m_scrape_mutex; // one scrape at a time: they share the process figures

  Counter& m_scrapes;
  Counter& m_timeouts;
  Gauge& m_collect_seconds;
  Gauge& m_cpu_seconds;
  Gauge& m_resident_bytes;
  Gauge& m_start_time;
};

} // namespace medic::coordinator::metrics
