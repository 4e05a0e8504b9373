// SPDX-License-Identifier: Apache-2.0
// A tiny HTTP/1.1 receiver for escalation tests: listens on 127.0.0.1 (port 0), answers every
// request with a chosen status, and keeps what it received. One thread; Connection: close.
// (cpp-httplib is installed but not linked into the test binary; this needs nothing.)
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace medic::test {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;
};

class HttpReceiver {
public:
  explicit HttpReceiver(int status = 200) : m_status(status) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(m_fd, 16) != 0 ||
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(m_fd);
      m_fd = -1;
      return;
    }
    m_port = ntohs(addr.sin_port);
    m_thread = std::thread([this] { serve(); });
  }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;
  ~HttpReceiver() {
    m_stop = true;
    if (m_thread.joinable()) {
      m_thread.join();
    }
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }

  [[nodiscard]] int port() const noexcept { return m_port; }
  [[nodiscard]] std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(m_port) + path;
  }
  void set_status(int status) { m_status = status; }
  [[nodiscard]] std::vector<ReceivedRequest> received() const {
    std::lock_guard lock(m_mutex);
    return m_requests;
  }
  [[nodiscard]] std::size_t count() const {
    std::lock_guard lock(m_mutex);
    return m_requests.size();
  }

private:
  void serve() {
    while (!m_stop) {
      pollfd p{m_fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      const int client = ::accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        handle(client);
        ::close(client);
      }
    }
  }

  // Reads until the headers and Content-Length bytes of body arrived (or 2 s passed).
  void handle(int client) {
    std::string data;
    std::size_t header_end = std::string::npos;
    std::size_t need = 0;
    char buffer[4096];
    for (int waited = 0; waited < 40;) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        ++waited;
        continue;
      }
      const ssize_t got = ::read(client, buffer, sizeof buffer);
      if (got <= 0) {
        break;
      }
      data.append(buffer, static_cast<std::size_t>(got));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          need = header_end + 4 + content_length(data.substr(0, header_end));
        }
      }
      if (header_end != std::string::npos && data.size() >= need) {
        break;
      }
    }
    if (header_end == std::string::npos) {
      return;
    }
    store(data, header_end);
    const std::string reply = "HTTP/1.1 " + std::to_string(m_status.load()) +
                              " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    (void)!::write(client, reply.data(), reply.size());
  }

  static std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
  }

  static std::size_t content_length(const std::string& head) {
    const std::string lowered = lower(head);
    const auto at = lowered.find("\r\ncontent-length:");
    return at == std::string::npos ? 0 : std::stoul(head.substr(at + 17));
  }

  void store(const std::string& data, std::size_t header_end) {
    ReceivedRequest request;
    const auto first_end = data.find("\r\n");
    const std::string first = data.substr(0, first_end);
    request.method = first.substr(0, first.find(' '));
    const auto path_at = first.find(' ') + 1;
    request.path = first.substr(path_at, first.find(' ', path_at) - path_at);
    std::size_t pos = first_end + 2;
    while (pos < header_end) {
      const auto end = data.find("\r\n", pos);
      const std::string line = data.substr(pos, end - pos);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        const auto value_at = line.find_first_not_of(' ', colon + 1);
        request.headers[lower(line.substr(0, colon))] =
            value_at == std::string::npos ? "" : line.substr(value_at);
      }
      pos = end + 2;
    }
    request.body = data.substr(header_end + 4);
    std::lock_guard lock(m_mutex);
    m_requests.push_back(std::move(request));
  }

  std::atomic<int> m_status;
  int m_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex;
  std::vector<ReceivedRequest> m_requests;
  std::thread m_thread;
};

// A loopback port nobody listens on (bound, then closed): connecting is refused.
inline int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

} // namespace medic::test
