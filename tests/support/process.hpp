// SPDX-License-Identifier: Apache-2.0
// Real child processes for end-to-end tests: spawned from an argv (no shell), output captured
// to files, stopped by signal, waited for with a deadline. A Process still running at scope
// exit is killed, so a failing test never leaves one behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace medic::test {

struct ExitStatus {
  int code = -1;  // exit code when the process exited
  int signal = 0; // the signal that killed it, else 0
  [[nodiscard]] bool exited_with(int expected) const { return signal == 0 && code == expected; }
};

class Process {
public:
  // stdout and stderr go to `log_path` (appended).
  Process(std::vector<std::string> argv, const std::filesystem::path& log_path,
          std::vector<std::string> extra_env = {});
  Process(std::vector<std::string> argv, const std::filesystem::path& out_path,
          const std::filesystem::path& err_path, std::vector<std::string> extra_env);
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  [[nodiscard]] pid_t pid() const noexcept { return m_pid; }
  void signal(int signum) const;
  // Polls waitpid until the process ends or the timeout passes.
  [[nodiscard]] std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  [[nodiscard]] bool running();

private:
  pid_t m_pid = -1;
  std::optional<ExitStatus> m_status;
};

struct CommandResult {
  ExitStatus status;
  std::string output; // stdout
  std::string errors; // stderr
};

// Runs a command to its end (killed after `timeout`) and returns what it printed.
[[nodiscard]] CommandResult run_command(
    const std::vector<std::string>& argv,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct ChildResult {
  ExitStatus status;
  std::string reply; // what the body returned
};

// Runs `body` in a forked child, for what must not change this process (a mount namespace of
// its own, SQLite's global configuration), and returns what the body returned (through a pipe,
// at most 64 KiB) and how the child ended: exit code 0 when the body returned, 1 when it threw
// (its message is the reply). The body reports through its reply, not with test assertions.
[[nodiscard]] ChildResult run_in_child(const std::function<std::string()>& body);

// Polls `condition` every `step` until it holds or `timeout` passes; true when it held.
template <class Condition>
bool wait_until(Condition&& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(50));

void sleep_for(std::chrono::milliseconds duration);

template <class Condition>
bool wait_until(Condition&& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    sleep_for(step);
  }
}

} // namespace medic::test
