// SPDX-License-Identifier: Apache-2.0
#include "tests/support/loopback_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace medic::test {

namespace {

// The request's head: read until its blank line, a 2 s pause, or the peer closed.
std::string read_request(int client) {
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

// A TCP socket bound to 127.0.0.1 at port 0 (the kernel's pick, written to `port`); -1 on error.
int bind_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(address.sin_port);
  return fd;
}

} // namespace

int listen_loopback(std::uint16_t& port) {
  const int fd = bind_loopback(port);
  if (fd >= 0 && ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int free_loopback_port() {
  std::uint16_t port = 0;
  const int fd = bind_loopback(port);
  if (fd < 0) {
    return 0;
  }
  ::close(fd);
  return port;
}

CannedServer::CannedServer(std::string response, AfterAnswer after)
    : m_response(std::move(response)), m_after(after), m_fd(listen_loopback(m_port)) {
  if (m_fd < 0) {
    throw std::runtime_error("CannedServer: cannot listen on 127.0.0.1");
  }
  m_thread = std::thread([this] { serve(); });
}

CannedServer::~CannedServer() {
  m_stop = true;
  m_thread.join();
  for (const int fd : m_held) {
    ::close(fd);
  }
  ::close(m_fd);
}

std::string CannedServer::last_request() const {
  const std::lock_guard lock(m_mutex);
  return m_request;
}

void CannedServer::serve() {
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
      m_request = std::move(request);
    }
    (void)!::write(client, m_response.data(), m_response.size());
    if (m_after == AfterAnswer::keep_open) {
      m_held.push_back(client);
    } else {
      ::close(client);
    }
  }
}

} // namespace medic::test
