// SPDX-License-Identifier: Apache-2.0
// A tiny HTTP/1.1 receiver for tests (webhooks, Alertmanager's own webhook): listens on
// 127.0.0.1 (port 0), answers every request with a chosen status, and keeps what it received.
// One thread; Connection: close. (cpp-httplib is installed but not linked into the test
// binaries; this needs nothing.)
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/loopback_server.hpp" // free_loopback_port, listen_loopback

namespace medic::test {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;
};

class HttpReceiver {
public:
  explicit HttpReceiver(int status = 200);
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;
  ~HttpReceiver();

  [[nodiscard]] int port() const noexcept { return m_port; }
  [[nodiscard]] std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(m_port) + path;
  }
  void set_status(int status) { m_status = status; }
  [[nodiscard]] std::vector<ReceivedRequest> received() const;
  [[nodiscard]] std::size_t count() const;

private:
  void serve();
  // Reads until the headers and Content-Length bytes of body arrived (or 2 s passed).
  void handle(int client);
  void store(const std::string& data, std::size_t header_end);

  std::atomic<int> m_status;
  int m_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex;
  std::vector<ReceivedRequest> m_requests;
  std::thread m_thread;
};

} // namespace medic::test
