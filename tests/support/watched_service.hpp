// SPDX-License-Identifier: Apache-2.0
// A service for healing tests: a uniquely named copy of sleep in a test's directory, so that
// only ours is matched. Its copies are found by their executable in /proc and all killed at
// scope exit. Plus the agent config that watches it and heals it by itself (fallback healing).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace medic::test {

// Pids of processes whose executable is `path`.
[[nodiscard]] std::vector<pid_t> pids_running(const std::filesystem::path& path);
// SIGKILL to every process whose executable is `path`.
void kill_all(const std::filesystem::path& path);

class WatchedService {
public:
  // Copies /bin/sleep to <dir>/<name>-<our pid>; starts nothing.
  WatchedService(const std::filesystem::path& dir, const std::string& name);
  WatchedService(const WatchedService&) = delete;
  WatchedService& operator=(const WatchedService&) = delete;
  ~WatchedService();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return m_path; }
  [[nodiscard]] bool running() const { return !pids_running(m_path).empty(); }
  // Kills every copy running; true once none is left within `timeout`.
  [[nodiscard]] bool kill_now(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // An exec action's argv (YAML) that starts it again, detached, for an hour.
  [[nodiscard]] std::string start_argv() const;

private:
  std::filesystem::path m_path;
};

// An agent config that watches `service` as process `svc` and, cut off from its coordinator for
// 1 s, heals process-down by itself with action start-svc (risk low, timeout 5 s, `start_argv`,
// the action's own `cooldown`): backoff 0.5 s to 1 s, 3 attempts, healthy after 30 s.
[[nodiscard]] std::string fallback_heal_config(const WatchedService& service,
                                               const std::string& start_argv,
                                               const std::string& cooldown);

} // namespace medic::test
