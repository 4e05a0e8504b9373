// SPDX-License-Identifier: Apache-2.0
// The http kind against a small HTTP server on a thread of the test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/agent/act/runner_harness.hpp"

using namespace medic::agent::act;
using namespace std::chrono_literals;
using medic::test::params;
using medic::test::RunnerHarness;

namespace {

int listen_local(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  port = ntohs(address.sin_port);
  return fd;
}

// Answers each request with `response` once its headers arrived and closes (or, with
// `keep_open`, leaves the connection open); never answers when `response` is empty.
class TestServer {
public:
  explicit TestServer(std::string response, bool keep_open = false)
      : m_response(std::move(response)),
        m_keep_open(keep_open),
        m_fd(listen_local(m_port)),
        m_thread([this] { serve(); }) {}
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  ~TestServer() {
    m_stop = true;
    m_thread.join();
    for (const int fd : m_held) {
      ::close(fd);
    }
    ::close(m_fd);
  }
  [[nodiscard]] std::uint16_t port() const { return m_port; }
  [[nodiscard]] std::string last_request() const {
    const std::lock_guard lock(m_mutex);
    return m_request;
  }

private:
  void serve() {
    while (!m_stop) {
      pollfd listening{m_fd, POLLIN, 0};
      if (::poll(&listening, 1, 20) <= 0) {
        continue;
      }
      const int client = ::accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        continue;
      }
      if (m_response.empty()) {
        m_held.push_back(client);
        continue;
      }
      std::string request = read_request(client);
      {
        const std::lock_guard lock(m_mutex);
        m_request = request;
      }
      (void)::write(client, m_response.data(), m_response.size());
      if (m_keep_open) {
        m_held.push_back(client);
      } else {
        ::close(client);
      }
    }
  }

  static std::string read_request(int client) {
    std::string request;
    char buffer[1024];
    while (request.find("\r\n\r\n") == std::string::npos) {
      pollfd readable{client, POLLIN, 0};
      if (::poll(&readable, 1, 2000) <= 0) {
        break;
      }
      const ssize_t got = ::read(client, buffer, sizeof buffer);
      if (got <= 0) {
        break;
      }
      request.append(buffer, static_cast<std::size_t>(got));
    }
    return request;
  }

  std::string m_response;
  bool m_keep_open;
  std::uint16_t m_port = 0;
  int m_fd;
  std::atomic<bool> m_stop{false};
  std::vector<int> m_held;
  mutable std::mutex m_mutex;
  std::string m_request;
  std::thread m_thread;
};

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
  TestServer server("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
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
  TestServer server("HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nbad\n");
  RunnerHarness harness;
  const RunOutcome failed = harness.run(http_action(server.port(), "/reset"));
  CHECK(failed.status == RunStatus::failed);
  CHECK(failed.reason == "HTTP status 500 (expected 2xx)");
  CHECK(failed.output.ends_with("bad\n"));
  const RunOutcome expected = harness.run(http_action(server.port(), "/reset", 500));
  CHECK(expected.status == RunStatus::succeeded);
}

TEST_CASE("http: a server that keeps the connection open is not waited for", "[act-runner][http]") {
  TestServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true);
  RunnerHarness harness;
  const auto start = std::chrono::steady_clock::now();
  const RunOutcome outcome = harness.run(http_action(server.port(), "/"));
  CHECK(outcome.status == RunStatus::succeeded);
  CHECK(std::chrono::steady_clock::now() - start < 1500ms);
}

TEST_CASE("http: no answer times out, no listener fails, output is bounded", "[act-runner][http]") {
  SECTION("silent server") {
    TestServer server("");
    RunnerHarness harness;
    Action action = http_action(server.port(), "/");
    action.timeout = 300ms;
    const RunOutcome outcome = harness.run(action);
    CHECK(outcome.status == RunStatus::timed_out);
  }
  SECTION("nobody listening") {
    std::uint16_t port = 0;
    ::close(listen_local(port));
    RunnerHarness harness;
    const RunOutcome outcome = harness.run(http_action(port, "/"));
    CHECK(outcome.status == RunStatus::failed);
    CHECK(outcome.reason.find("connecting") != std::string::npos);
  }
  SECTION("a long body") {
    TestServer server("HTTP/1.1 200 OK\r\n\r\n" + std::string(100'000, 'z'));
    RunnerSettings settings;
    settings.max_output = 64;
    RunnerHarness harness(settings);
    const RunOutcome outcome = harness.run(http_action(server.port(), "/"));
    CHECK(outcome.status == RunStatus::succeeded);
    CHECK(outcome.output.size() == 64);
    CHECK(outcome.output_dropped == 19 + 100'000 - 64);
  }
}
