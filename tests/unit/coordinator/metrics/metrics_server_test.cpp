// SPDX-License-Identifier: Apache-2.0
// MetricsServer over real HTTP on loopback (httplib::Client): a scrape has the loop collect
// first (on the loop thread) and serves the text format; when the loop does not answer, the
// scrape is served anyway within the bound and counted; close() while a scrape waits returns
// promptly. metrics.listen accepts loopback addresses and off, and refuses anything else.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <httplib.h>

#include "coordinator/metrics/exposition.hpp"
#include "coordinator/metrics/metrics_server.hpp"
#include "tests/support/process.hpp"

namespace metrics = medic::coordinator::metrics;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  Fixture() {
    uv_loop_init(&loop);
    loop_thread = std::this_thread::get_id();
  }
  ~Fixture() {
    if (server) {
      server->close();
    }
    uv_run(&loop, UV_RUN_NOWAIT); // the async handle's close callback
    uv_loop_close(&loop);
  }
  void start() {
    auto started = metrics::MetricsServer::start(loop, "127.0.0.1:0", registry, [this] {
      collected_on_loop = collected_on_loop && std::this_thread::get_id() == loop_thread;
      level.set(++collections);
    });
    REQUIRE(started);
    server = std::move(*started);
  }
  // GET /metrics on another thread while this one runs the loop.
  httplib::Result scrape(bool run_loop = true) {
    auto answer = std::async(std::launch::async, [port = server->port()] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(5, 0);
      return client.Get(metrics::k_metrics_path);
    });
    while (answer.wait_for(1ms) != std::future_status::ready) {
      if (run_loop) {
        uv_run(&loop, UV_RUN_NOWAIT);
      }
    }
    return answer.get();
  }
  uv_loop_t loop{};
  std::thread::id loop_thread;
  metrics::Registry registry;
  metrics::Gauge& level = registry.gauge("medic_test_collections", "Collections so far").get();
  int collections = 0;
  bool collected_on_loop = true;
  std::unique_ptr<metrics::MetricsServer> server;
};

} // namespace

TEST_CASE("metrics server: a scrape collects on the loop and serves the text format", "[metrics]") {
  Fixture f;
  f.start();
  auto first = f.scrape();
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->get_header_value("Content-Type") == metrics::k_text_content_type);
  CHECK(first->body.find("medic_test_collections 1\n") != std::string::npos);
  CHECK(first->body.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
  CHECK(first->body.find("process_resident_memory_bytes ") != std::string::npos);
  auto second = f.scrape();
  REQUIRE(second);
  CHECK(second->body.find("medic_test_collections 2\n") != std::string::npos);
  CHECK(second->body.find("medic_metrics_scrapes_total 2\n") !=
        std::string::npos); // this one included
  CHECK(second->body.find("medic_metrics_collect_timeouts_total 0\n") != std::string::npos);
  CHECK(f.collected_on_loop);

  httplib::Client client("127.0.0.1", f.server->port());
  auto missing = client.Get("/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
}

TEST_CASE("metrics server: a loop that does not answer delays a scrape by the bound only",
          "[metrics]") {
  Fixture f;
  f.start();
  const auto started = std::chrono::steady_clock::now();
  auto stale = f.scrape(false); // nobody runs the loop
  const auto waited = std::chrono::steady_clock::now() - started;
  REQUIRE(stale);
  CHECK(stale->status == 200);
  CHECK(stale->body.find("medic_test_collections 0\n") != std::string::npos);
  CHECK(stale->body.find("medic_metrics_collect_timeouts_total 1\n") != std::string::npos);
  CHECK(waited >= metrics::k_collect_timeout);
  CHECK(waited < metrics::k_collect_timeout + 2s);
}

TEST_CASE("metrics server: close while a scrape waits for the loop returns promptly", "[metrics]") {
  Fixture f;
  f.start();
  auto answer = std::async(std::launch::async, [port = f.server->port()] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(5, 0);
    return client.Get(metrics::k_metrics_path);
  });
  std::this_thread::sleep_for(50ms); // the request is (very likely) waiting by now
  const auto started = std::chrono::steady_clock::now();
  f.server->close();
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK(answer.wait_for(5s) == std::future_status::ready);
}

TEST_CASE("metrics config: loopback addresses and off are accepted, others refused", "[metrics]") {
  CHECK(metrics::metrics_off(""));
  CHECK(metrics::metrics_off("off"));
  CHECK_FALSE(metrics::metrics_off("127.0.0.1:9464"));
  CHECK(metrics::parse_loopback_listen("127.0.0.1:9464"));
  CHECK(metrics::parse_loopback_listen("127.0.0.2:9464"));
  CHECK(metrics::parse_loopback_listen("[::1]:9464"));
  CHECK(metrics::parse_loopback_listen("localhost:9464"));
  auto any = metrics::parse_loopback_listen("0.0.0.0:9464");
  REQUIRE_FALSE(any);
  CHECK(any.error().message().find("loopback address only") != std::string::npos);
  CHECK_FALSE(metrics::parse_loopback_listen("192.168.1.10:9464"));
  CHECK_FALSE(metrics::parse_loopback_listen("[::]:9464"));
  CHECK_FALSE(metrics::parse_loopback_listen("example.com:9464"));
  CHECK_FALSE(metrics::parse_loopback_listen("127.0.0.1"));
  CHECK_FALSE(metrics::parse_loopback_listen("127.0.0.1:0"));
  CHECK(metrics::parse_loopback_listen("127.0.0.1:0", true));
  CHECK_FALSE(metrics::parse_loopback_listen("127.0.0.1:70000"));
}
