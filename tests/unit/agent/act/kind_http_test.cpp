// SPDX-License-Identifier: Apache-2.0
// The http kind against a small HTTP server on a thread of the test.
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/loopback_server.hpp"
#include "tests/unit/agent/act/runner_harness.hpp"

using namespace medic::agent::act;
using namespace std::chrono_literals;
using medic::test::CannedServer;
using medic::test::params;
using medic::test::RunnerHarness;

namespace {

Action http_action(std::uint16_t port, std::string path, int expected_status = 0) {
  Action action;
  action.name = "reset-pool";
  action.kind = ActionKind::http;
  action.timeout = 2s;
  HttpSpec spec;
  spec.port = port;
  spec.path = std::move(path);
  spec.expected_status = expected_status;
  action.spec = std::move(spec);
  return action;
}

} // namespace

TEST_CASE("http: the request line, escaped parameters, a 2xx answer", "[act-runner][http]") {
  CannedServer server("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  RunnerHarness harness;
  const RunOutcome outcome = harness.run(http_action(server.port(), "/pools/{pool}/reset"),
                                         params({{"pool", "a b/../c?x#y"}}));
  CHECK(outcome.status == RunStatus::succeeded);
  CHECK(outcome.output.starts_with("HTTP/1.1 204"));
  const std::string request = server.last_request();
  CHECK(request.starts_with("POST /pools/a%20b%2F%2E%2E%2Fc%3Fx%23y/reset HTTP/1.1\r\n"));
  CHECK(request.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n") !=
        std::string::npos);
  CHECK(request.find("\r\nContent-Length: 0\r\n") != std::string::npos);
  CHECK(request.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(outcome.plan == "http POST http://127.0.0.1:" + std::to_string(server.port()) +
                            "/pools/a%20b%2F%2E%2E%2Fc%3Fx%23y/reset");
}

TEST_CASE("http: a status that is not the expected one fails", "[act-runner][http]") {
  CannedServer server("HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nbad\n");
  RunnerHarness harness;
  const RunOutcome failed = harness.run(http_action(server.port(), "/reset"));
  CHECK(failed.status == RunStatus::failed);
  CHECK(failed.reason == "HTTP status 500 (expected 2xx)");
  CHECK(failed.output.ends_with("bad\n"));
  const RunOutcome expected = harness.run(http_action(server.port(), "/reset", 500));
  CHECK(expected.status == RunStatus::succeeded);
}

TEST_CASE("http: a server that keeps the connection open is not waited for", "[act-runner][http]") {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                      medic::test::AfterAnswer::keep_open);
  RunnerHarness harness;
  const auto start = std::chrono::steady_clock::now();
  const RunOutcome outcome = harness.run(http_action(server.port(), "/"));
  CHECK(outcome.status == RunStatus::succeeded);
  CHECK(std::chrono::steady_clock::now() - start < 1500ms);
}

TEST_CASE("http: no answer times out, no listener fails, output is bounded", "[act-runner][http]") {
  SECTION("silent server") {
    CannedServer server("");
    RunnerHarness harness;
    Action action = http_action(server.port(), "/");
    action.timeout = 300ms;
    const RunOutcome outcome = harness.run(action);
    CHECK(outcome.status == RunStatus::timed_out);
  }
  SECTION("nobody listening") {
    std::uint16_t port = 0;
    const int listening = medic::test::listen_loopback(port);
    REQUIRE(listening >= 0);
    ::close(listening);
    RunnerHarness harness;
    const RunOutcome outcome = harness.run(http_action(port, "/"));
    CHECK(outcome.status == RunStatus::failed);
    CHECK(outcome.reason.find("connecting") != std::string::npos);
  }
  SECTION("a long body") {
    CannedServer server("HTTP/1.1 200 OK\r\n\r\n" + std::string(100'000, 'z'));
    RunnerSettings settings;
    settings.max_output = 64;
    RunnerHarness harness(settings);
    const RunOutcome outcome = harness.run(http_action(server.port(), "/"));
    CHECK(outcome.status == RunStatus::succeeded);
    CHECK(outcome.output.size() == 64);
    CHECK(outcome.output_dropped == 19 + 100'000 - 64);
  }
}
