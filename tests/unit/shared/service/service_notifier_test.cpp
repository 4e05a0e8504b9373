// SPDX-License-Identifier: Apache-2.0
// sd_notify for real: a Unix datagram socket stands in for systemd's notification socket, the
// notifier runs on a real libuv loop, and what arrives on the socket is checked.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <uv.h>
#include <catch2/catch.hpp>

#include "shared/service/service_notifier.hpp"
#include "shared/uv/handle.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

// A bound datagram socket and NOTIFY_SOCKET pointing at it; the environment is restored after.
class FakeSystemd {
public:
  explicit FakeSystemd(const medic::test::TempDir& dir) : m_path((dir / "notify.sock").string()) {
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(m_fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(m_path.size() < sizeof(address.sun_path));
    std::memcpy(address.sun_path, m_path.c_str(), m_path.size() + 1);
    REQUIRE(::bind(m_fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    ::setenv("NOTIFY_SOCKET", m_path.c_str(), 1);
  }
  FakeSystemd(const FakeSystemd&) = delete;
  FakeSystemd& operator=(const FakeSystemd&) = delete;
  ~FakeSystemd() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(m_fd);
  }

  // Every datagram waiting now, without blocking.
  std::vector<std::string> received() const {
    std::vector<std::string> messages;
    char buffer[4096];
    for (;;) {
      const auto n = ::recv(m_fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n <= 0) {
        return messages;
      }
      messages.emplace_back(buffer, static_cast<std::size_t>(n));
    }
  }

private:
  std::string m_path;
  int m_fd = -1;
};

// Runs the loop for `ms` milliseconds of wall time.
void run_for(uv_loop_t& loop, std::uint64_t ms) {
  uv_timer_t stop{};
  uv_timer_init(&loop, &stop);
  uv_timer_start(
      &stop, [](uv_timer_t* timer) { uv_stop(timer->loop); }, ms, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  medic::uv::close_handle(stop);
  uv_run(&loop, UV_RUN_NOWAIT); // the close callback runs before `stop` goes out of scope
}

std::size_t count(const std::vector<std::string>& messages, const std::string& text) {
  std::size_t n = 0;
  for (const auto& message : messages) {
    n += message == text ? 1 : 0;
  }
  return n;
}

} // namespace

TEST_CASE("the notifier sends READY and then WATCHDOG at half WatchdogSec", "[service-notify]") {
  medic::test::TempDir dir;
  FakeSystemd systemd(dir);
  ::setenv("WATCHDOG_USEC", "100000", 1); // 100 ms: WATCHDOG=1 every 50 ms
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    medic::service::ServiceNotifier notifier(loop);
    CHECK(notifier.active());
    CHECK(notifier.watchdog_interval().count() == 50);
    notifier.ready("started: 3 rules\nsecond line");
    run_for(loop, 400);
    notifier.reloading("reloading");
    notifier.stopping("stopping");
    medic::uv::close_loop(loop);
    CHECK(notifier.failed() == 0);
  }
  const auto messages = systemd.received();
  REQUIRE(messages.size() >= 4);
  CHECK(messages.front() == "READY=1\nSTATUS=started: 3 rules second line");
  // 400 ms at 50 ms apart: allow for a slow machine, but several must have arrived.
  CHECK(count(messages, "WATCHDOG=1") >= 3);
  CHECK(messages[messages.size() - 2].rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  CHECK(messages.back() == "STOPPING=1\nSTATUS=stopping");
}

TEST_CASE("the notifier has no watchdog when WATCHDOG_PID names another process",
          "[service-notify]") {
  medic::test::TempDir dir;
  FakeSystemd systemd(dir);
  ::setenv("WATCHDOG_USEC", "100000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    medic::service::ServiceNotifier notifier(loop);
    CHECK(notifier.watchdog_interval().count() == 0);
    notifier.ready("up");
    run_for(loop, 150);
    notifier.stopping("down");
    medic::uv::close_loop(loop);
  }
  const auto messages = systemd.received();
  CHECK(messages == std::vector<std::string>{"READY=1\nSTATUS=up", "STOPPING=1\nSTATUS=down"});
}

TEST_CASE("the notifier does nothing without NOTIFY_SOCKET", "[service-notify]") {
  ::unsetenv("NOTIFY_SOCKET");
  ::setenv("WATCHDOG_USEC", "100000", 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    medic::service::ServiceNotifier notifier(loop);
    CHECK_FALSE(notifier.active());
    CHECK(notifier.watchdog_interval().count() == 0);
    notifier.ready("up");
    // No watchdog timer: the loop has nothing to run and returns at once.
    CHECK(uv_run(&loop, UV_RUN_NOWAIT) == 0);
    notifier.stopping("down");
    medic::uv::close_loop(loop);
    CHECK(notifier.sent() == 0);
    CHECK(notifier.failed() == 0);
  }
  ::unsetenv("WATCHDOG_USEC");
}
