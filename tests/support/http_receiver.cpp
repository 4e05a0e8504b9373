// SPDX-License-Identifier: Apache-2.0
#include "tests/support/http_receiver.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace medic::test {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::size_t content_length(const std::string& head) {
  const std::string lowered = lower(head);
  const auto at = lowered.find("\r\ncontent-length:");
  return at == std::string::npos ? 0 : std::stoul(head.substr(at + 17));
}

} // namespace

HttpReceiver::HttpReceiver(int status) : m_status(status) {
  std::uint16_t port = 0;
  m_fd = listen_loopback(port);
  if (m_fd < 0) {
    return;
  }
  m_port = port;
  m_thread = std::thread([this] { serve(); });
}

HttpReceiver::~HttpReceiver() {
  m_stop = true;
  if (m_thread.joinable()) {
    m_thread.join();
  }
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

std::vector<ReceivedRequest> HttpReceiver::received() const {
  std::lock_guard lock(m_mutex);
  return m_requests;
}

std::size_t HttpReceiver::count() const {
  std::lock_guard lock(m_mutex);
  return m_requests.size();
}

void HttpReceiver::serve() {
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

void HttpReceiver::handle(int client) {
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

void HttpReceiver::store(const std::string& data, std::size_t header_end) {
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

} // namespace medic::test
