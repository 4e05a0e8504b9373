// SPDX-License-Identifier: Apache-2.0
#include "coordinator/cli/admin_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace medic::coordinator::cli {

namespace {

class Fd {
public:
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  [[nodiscard]] int get() const { return m_fd; }

private:
  int m_fd;
};

using Deadline = std::chrono::steady_clock::time_point;

// Waits for `events` until the deadline; false on timeout.
bool wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd entry{fd, events, 0};
    const int rc = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (rc > 0) {
      return true;
    }
    if (rc < 0 && errno != EINTR) {
      return false;
    }
  }
}

} // namespace

Result<nlohmann::json> admin_request(const std::string& socket_path, const nlohmann::json& request,
                                     std::chrono::milliseconds timeout) {
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    return fail(ErrorCode::io, errno_text("creating a socket", errno));
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    return fail(ErrorCode::invalid_argument, "socket path too long: " + socket_path);
  }
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    std::string hint = error == ENOENT || error == ECONNREFUSED
                           ? " (is medic-coordinator running? pass --socket PATH if it uses "
                             "another admin.socket)"
                       : error == EACCES ? " (run as root or as a member of the medic group)"
                                         : "";
    return fail(ErrorCode::io,
                errno_text("cannot reach the coordinator at " + socket_path, error) + hint);
  }
  const std::string line = request.dump() + "\n";
  std::size_t written = 0;
  while (written < line.size()) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      return fail(ErrorCode::io, "timed out sending the request to " + socket_path);
    }
    const ssize_t n = ::send(fd.get(), line.data() + written, line.size() - written, MSG_NOSIGNAL);
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      break; // the coordinator hung up, maybe after answering (a refused peer): read that
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return fail(ErrorCode::io, errno_text("sending the request", errno));
    }
    written += n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  std::string response;
  char buffer[8192];
  while (response.find('\n') == std::string::npos) {
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      return fail(ErrorCode::io, "timed out waiting for the coordinator's answer");
    }
    const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n == 0) {
      return fail(ErrorCode::io, "the coordinator closed the connection without an answer");
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return fail(ErrorCode::io, errno_text("reading the answer", errno));
    }
    response.append(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
    if (response.size() > k_max_response_bytes) {
      return fail(ErrorCode::protocol, "the coordinator's answer exceeds 64 MiB");
    }
  }
  response.resize(response.find('\n'));
  auto parsed = nlohmann::json::parse(response, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return fail(ErrorCode::protocol, "the coordinator's answer is not a JSON object");
  }
  return parsed;
}

} // namespace medic::coordinator::cli
