// SPDX-License-Identifier: Apache-2.0
// TCP on 127.0.0.1 for tests: a listening socket on a port the kernel picks, a port nobody
// listens on, and a canned-answer server on its own thread (for HTTP clients and probes that
// only need one fixed answer; tests/support/http_receiver.hpp keeps and parses requests).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace medic::test {

// A socket listening on 127.0.0.1 at a port chosen by the kernel (written to `port`); -1 when
// any step failed.
[[nodiscard]] int listen_loopback(std::uint16_t& port);

// A loopback TCP port that was free a moment ago (bound to port 0, then closed): nobody listens
// on it, so connecting is refused until someone binds it.
[[nodiscard]] int free_loopback_port();

// What the canned server does with a connection once it answered.
enum class AfterAnswer { close, keep_open };

// Answers each request with `response` once its headers arrived (or 2 s passed) and closes (or,
// with AfterAnswer::keep_open, leaves the connection open); never answers when `response` is
// empty (the connection stays open). Throws when it cannot listen.
class CannedServer {
public:
  explicit CannedServer(std::string response, AfterAnswer after = AfterAnswer::close);
  CannedServer(const CannedServer&) = delete;
  CannedServer& operator=(const CannedServer&) = delete;
  ~CannedServer();

  [[nodiscard]] std::uint16_t port() const { return m_port; }
  [[nodiscard]] std::string last_request() const;

private:
  void serve();

  std::string m_response;
  AfterAnswer m_after;
  std::uint16_t m_port = 0;
  int m_fd;
  std::atomic<bool> m_stop{false};
  std::vector<int> m_held;
  mutable std::mutex m_mutex;
  std::string m_request;
  std::thread m_thread;
};

} // namespace medic::test
