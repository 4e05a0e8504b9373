// SPDX-License-Identifier: Apache-2.0
// Writing to this machine's kernel log for the kernel-log tests (root only, as the agent): a tag
// unique to the test run, so that other kernel messages and other tests writing at the same time
// do not matter, one line written the way a process does, and a loop run until a condition.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include <uv.h>
#include <catch2/catch.hpp>

namespace medic::test::kmsg {

inline std::string unique_tag(const std::string& prefix) {
  std::random_device random;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(random());
}

// One line at level err, facility user ("<3>"). Each call opens /dev/kmsg anew: the kernel
// rate-limits writes per open descriptor (10 in 5 s) and drops the rest silently.
inline void write_line(const std::string& line) {
  const int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const std::string record = "<3>" + line + "\n";
  const ssize_t wrote = ::write(fd, record.data(), record.size());
  ::close(fd);
  REQUIRE(wrote == static_cast<ssize_t>(record.size()));
}

// Runs `loop` (2 ms steps) until `done` or the timeout; false on the timeout.
template <class Done>
bool run_loop_until(uv_loop_t& loop, Done done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

} // namespace medic::test::kmsg
