// SPDX-License-Identifier: Apache-2.0
// sd_notify() and sd_watchdog_enabled(), the two libsystemd calls medic makes (shared/service),
// for MEDIC_AGENT_STATIC: Debian ships no libsystemd.a, and the shared one loads six more
// libraries (libgcrypt, liblzma, libzstd, ...; ~0.4 MiB of the agent's RSS). The protocol is
// small and stable (sd_notify(3)): one datagram of newline-separated assignments to the
// AF_UNIX socket named by $NOTIFY_SOCKET, a path or, with a leading '@', an abstract name.
#include <systemd/sd-daemon.h> // the declarations these definitions must match
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern "C" {

int sd_notify(int unset_environment, const char* state) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  int result = 0;
  if (name != nullptr) {
    const std::size_t length = std::strlen(name);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (state == nullptr) {
      result = -EINVAL;
    } else if ((name[0] != '/' && name[0] != '@') || length < 2 ||
               length > sizeof(address.sun_path)) {
      result = -EINVAL; // vsock: and other transports are not supported here
    } else {
      std::memcpy(address.sun_path, name, length);
      if (name[0] == '@') {
        address.sun_path[0] = '\0';
      }
      const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length +
                                               (name[0] == '/' && length < sizeof(address.sun_path)));
      const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        result = -errno;
      } else {
        const ssize_t sent = ::sendto(fd, state, std::strlen(state), MSG_NOSIGNAL,
                                      reinterpret_cast<const sockaddr*>(&address), size);
        result = sent < 0 ? -errno : 1;
        ::close(fd);
      }
    }
  }
  if (unset_environment != 0) {
    ::unsetenv("NOTIFY_SOCKET");
  }
  return result;
}

int sd_watchdog_enabled(int unset_environment, std::uint64_t* usec) {
  const auto number = [](const char* text, auto& value) {
    const std::string_view s(text);
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    return ec == std::errc() && end == s.data() + s.size();
  };
  int result = 0;
  const char* watchdog = std::getenv("WATCHDOG_USEC");
  const char* pid_text = std::getenv("WATCHDOG_PID");
  std::uint64_t value = 0;
  pid_t pid = 0;
  if (watchdog == nullptr) {
    result = 0;
  } else if (!number(watchdog, value) || value == 0) {
    result = -EINVAL;
  } else if (pid_text != nullptr && (!number(pid_text, pid) || pid <= 0)) {
    result = -EINVAL;
  } else if (pid_text != nullptr && pid != ::getpid()) {
    result = 0; // meant for another process
  } else {
    if (usec != nullptr) {
      *usec = value;
    }
    result = 1;
  }
  if (unset_environment != 0) {
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  return result;
}

} // extern "C"
