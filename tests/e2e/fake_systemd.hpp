// SPDX-License-Identifier: Apache-2.0
// A fake systemd for end-to-end tests: the notification socket a Type=notify unit's process
// writes to (NOTIFY_SOCKET), as a bound Unix datagram socket whose messages the test reads.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace medic::test {

class FakeSystemd {
public:
  explicit FakeSystemd(const std::filesystem::path& socket_path) : m_path(socket_path.string()) {
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (m_fd < 0 || m_path.size() >= sizeof(address.sun_path)) {
      throw std::runtime_error("fake systemd: cannot make a socket at " + m_path);
    }
    std::memcpy(address.sun_path, m_path.c_str(), m_path.size() + 1);
    if (::bind(m_fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(m_fd);
      throw std::runtime_error("fake systemd: cannot bind " + m_path);
    }
  }
  FakeSystemd(const FakeSystemd&) = delete;
  FakeSystemd& operator=(const FakeSystemd&) = delete;
  ~FakeSystemd() { ::close(m_fd); }

  // For the child's environment.
  [[nodiscard]] std::string notify_socket_env() const { return "NOTIFY_SOCKET=" + m_path; }

  // Waits (bounded) for a message that starts with `prefix`, keeping every message read on the
  // way; true when one arrived. Looks at messages already read first, from `from` on.
  bool wait_for(const std::string& prefix, std::chrono::milliseconds timeout,
                std::size_t from = 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (std::size_t i = from;; ++i) {
      while (i >= m_messages.size()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !receive(left)) {
          return false;
        }
      }
      if (m_messages[i].rfind(prefix, 0) == 0) {
        m_matched = i;
        return true;
      }
    }
  }

  [[nodiscard]] const std::vector<std::string>& messages() const { return m_messages; }
  // Index of the message the last successful wait_for matched.
  [[nodiscard]] std::size_t matched() const { return m_matched; }
  [[nodiscard]] std::string all() const {
    std::string text;
    for (const auto& message : m_messages) {
      text += "[" + message + "] ";
    }
    return text;
  }

private:
  bool receive(std::chrono::milliseconds timeout) {
    pollfd ready{m_fd, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) <= 0) {
      return false;
    }
    char buffer[4096];
    const auto n = ::recv(m_fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) {
      m_messages.emplace_back(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }

  std::string m_path;
  int m_fd = -1;
  std::vector<std::string> m_messages;
  std::size_t m_matched = 0;
};

} // namespace medic::test
