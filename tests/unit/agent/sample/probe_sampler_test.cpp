// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/probe_sampler.hpp"

#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/loopback_server.hpp"
#include "tests/unit/agent/sample/recording_sink.hpp"

using namespace medic::agent::sample;
using medic::test::CannedServer;
using medic::test::RecordingSink;

namespace {

ProbeConfig probe(std::string name, ProbeKind kind, std::uint16_t port) {
  ProbeConfig config;
  config.name = std::move(name);
  config.kind = kind;
  config.port = port;
  config.timeout_ms = 2000;
  return config;
}

// Runs one round of `config` on a fresh loop and returns what it reported.
RecordingSink run_probe(const ProbeConfig& config, std::chrono::milliseconds* took = nullptr,
                        std::uint64_t* timeouts = nullptr) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  RecordingSink sink;
  {
    ProbeSampler sampler(ProbesConfig{{config}});
    REQUIRE(sampler.open(loop));
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(sampler.sample(sink, 1000));
    CHECK(sampler.busy());
    uv_run(&loop, UV_RUN_DEFAULT);
    if (took != nullptr) {
      *took = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    CHECK_FALSE(sampler.busy());
    if (timeouts != nullptr) {
      *timeouts = sampler.timeouts();
    }
    sampler.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(uv_loop_close(&loop) == 0);
  return sink;
}

std::map<std::string, std::string> named(const std::string& name) {
  return {{"probe", name}};
}

} // namespace

TEST_CASE("TCP probe: a listening port is up, a closed one down", "[sample][probe]") {
  std::uint16_t port = 0;
  const int listening = medic::test::listen_loopback(port);
  REQUIRE(listening >= 0);
  const RecordingSink up = run_probe(probe("db", ProbeKind::tcp, port));
  CHECK(up.value("probe.up", {{"probe", "db"}, {"target", "127.0.0.1:" + std::to_string(port)}}) ==
        1);
  const auto latency = up.value("probe.latency_ms", named("db"));
  REQUIRE(latency);
  CHECK(*latency >= 0);
  CHECK(*latency < 1000);
  CHECK(up.samples.front().time_ms == 1000);
  ::close(listening);

  const RecordingSink down = run_probe(probe("db", ProbeKind::tcp, port));
  CHECK(down.value("probe.up", named("db")) == 0);
  CHECK(down.count("probe.latency_ms") == 0);
}

TEST_CASE("HTTP probe reads the status and judges it", "[sample][probe]") {
  SECTION("200 is up; the request is a minimal GET") {
    CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    ProbeConfig config = probe("web", ProbeKind::http, server.port());
    config.host = "localhost";
    config.path = "/health?full=1";
    const RecordingSink sink = run_probe(config);
    CHECK(sink.value("probe.up", named("web")) == 1);
    CHECK(sink.value("probe.http_status", named("web")) == 200);
    CHECK(sink.count("probe.latency_ms") == 1);
    CHECK_THAT(server.last_request(), Catch::StartsWith("GET /health?full=1 HTTP/1.1\r\n"));
    CHECK_THAT(server.last_request(),
               Catch::Contains("Host: localhost:" + std::to_string(server.port()) + "\r\n"));
    CHECK_THAT(server.last_request(), Catch::Contains("Connection: close\r\n"));
  }
  SECTION("500 is down unless expected") {
    CannedServer server("HTTP/1.0 500 Internal Server Error\r\n\r\n");
    ProbeConfig config = probe("web", ProbeKind::http, server.port());
    RecordingSink sink = run_probe(config);
    CHECK(sink.value("probe.up", named("web")) == 0);
    CHECK(sink.value("probe.http_status", named("web")) == 500);
    config.expected_status = 500;
    sink = run_probe(config);
    CHECK(sink.value("probe.up", named("web")) == 1);
  }
  SECTION("a reply that is not HTTP is down") {
    CannedServer server("SSH-2.0-OpenSSH_9.2\r\n");
    const RecordingSink sink = run_probe(probe("web", ProbeKind::http, server.port()));
    CHECK(sink.value("probe.up", named("web")) == 0);
    CHECK(sink.count("probe.http_status") == 0);
  }
  SECTION("headers beyond the read limit: the status line still decides") {
    CannedServer server("HTTP/1.1 204 No Content\r\nX-Long: " + std::string(500, 'a') + "\r\n\r\n");
    ProbeConfig config = probe("web", ProbeKind::http, server.port());
    config.max_response_bytes = 64;
    const RecordingSink sink = run_probe(config);
    CHECK(sink.value("probe.up", named("web")) == 1);
    CHECK(sink.value("probe.http_status", named("web")) == 204);
  }
}

TEST_CASE("HTTP probe against a server that never answers times out", "[sample][probe]") {
  CannedServer server("");
  ProbeConfig config = probe("stuck", ProbeKind::http, server.port());
  config.timeout_ms = 200;
  std::chrono::milliseconds took{};
  std::uint64_t timeouts = 0;
  const RecordingSink sink = run_probe(config, &took, &timeouts);
  CHECK(sink.value("probe.up", named("stuck")) == 0);
  CHECK(timeouts == 1);
  CHECK(took >= std::chrono::milliseconds(190));
  CHECK(took < std::chrono::milliseconds(1500));
}

TEST_CASE("a probe never overlaps itself and keeps its interval", "[sample][probe]") {
  CannedServer server("");
  ProbeConfig config = probe("stuck", ProbeKind::http, server.port());
  config.timeout_ms = 100;
  config.interval_ms = 1000;
  uv_loop_t loop;
  uv_loop_init(&loop);
  RecordingSink sink;
  {
    ProbeSampler sampler(ProbesConfig{{config}});
    REQUIRE(sampler.open(loop));
    REQUIRE(sampler.sample(sink, 0));
    REQUIRE(sampler.sample(sink, 5000)); // still running: not started again
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(sink.count("probe.up") == 1);
    REQUIRE(sampler.sample(sink, 500)); // within the interval of the last start
    CHECK_FALSE(sampler.busy());
    REQUIRE(sampler.sample(sink, 6000));
    CHECK(sampler.busy());
    sampler.close(); // ends the attempt without reporting
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(sink.count("probe.up") == 1);
  }
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("probe config is checked with clear errors", "[sample][probe]") {
  ProbeConfig config = probe("web", ProbeKind::http, 80);
  CHECK(config.validate("probes[0]"));
  config.host = "example.com";
  CHECK_THAT(config.validate("probes[0]").error().message(),
             Catch::Contains("probes[0].host: 'example.com' is not a numeric IP address or "
                             "'localhost'"));
  config.host = "::1";
  CHECK(config.validate("probes[0]"));
  CHECK(probe_target("::1", 80) == "[::1]:80");
  config.path = "/a b";
  CHECK_THAT(config.validate("probes[0]").error().message(), Catch::Contains("probes[0].path"));
  config.path = "health";
  CHECK_THAT(config.validate("probes[0]").error().message(), Catch::Contains("start with '/'"));
  config.path = "/";
  config.port = 0;
  CHECK_THAT(config.validate("probes[0]").error().message(), Catch::Contains("probes[0].port"));
  config.port = 80;
  config.expected_status = 42;
  CHECK_THAT(config.validate("probes[0]").error().message(),
             Catch::Contains("probes[0].expected_status"));
  config.expected_status = 0;
  config.timeout_ms = 0;
  CHECK_THAT(config.validate("probes[0]").error().message(), Catch::Contains("probes[0].timeout"));
  ProbesConfig both{{probe("a", ProbeKind::tcp, 1), probe("a", ProbeKind::tcp, 2)}};
  CHECK_THAT(both.validate().error().message(),
             Catch::Contains("probes[1].name: 'a' is used twice"));
}

TEST_CASE("parse_http_status", "[sample][probe]") {
  int status = 0;
  CHECK(parse_http_status("", status) == HttpStatusParse::incomplete);
  CHECK(parse_http_status("HTT", status) == HttpStatusParse::incomplete);
  CHECK(parse_http_status("HTTP/1.1 200 OK", status) == HttpStatusParse::incomplete);
  CHECK(parse_http_status("HTTP/1.1 404 Not Found\r\n", status) == HttpStatusParse::ok);
  CHECK(status == 404);
  CHECK(parse_http_status("HTTP/1.1 200\r\n", status) == HttpStatusParse::ok);
  CHECK(parse_http_status("HTTP/1.1 20x OK\r\n", status) == HttpStatusParse::malformed);
  CHECK(parse_http_status("HTTP/1.1 2000 OK\r\n", status) == HttpStatusParse::malformed);
  CHECK(parse_http_status("<html>\n", status) == HttpStatusParse::malformed);
  CHECK(http_headers_complete("HTTP/1.1 200 OK\r\nA: b\r\n\r\n"));
  CHECK_FALSE(http_headers_complete("HTTP/1.1 200 OK\r\nA: b\r\n"));
}
