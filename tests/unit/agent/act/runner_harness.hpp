// SPDX-License-Identifier: Apache-2.0
// Test helpers for ActionRunner tests: a loop with a runner on it, runs awaited with a deadline
// (a 20 ms ticker keeps uv_run from sleeping past it), and a /proc scan for live members of a
// process group.
#pragma once

// GCC 12 at -O2 reports a false "potential null pointer dereference" inside libstdc++'s streambuf
// for the ifstream reads below and Catch's stringification; nothing dereferences a null pointer.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <dirent.h>
#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/act/runner.hpp"
#include "shared/clock.hpp"

namespace medic::test {

class RunnerHarness {
public:
  explicit RunnerHarness(agent::act::RunnerSettings settings = {}) {
    uv_loop_init(&m_loop);
    uv_timer_init(&m_loop, &m_ticker);
    m_runner.emplace(m_loop, m_clock, std::move(settings));
  }
  RunnerHarness(const RunnerHarness&) = delete;
  RunnerHarness& operator=(const RunnerHarness&) = delete;
  ~RunnerHarness() {
    m_runner->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&m_ticker), nullptr);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (uv_run(&m_loop, UV_RUN_NOWAIT) != 0 && std::chrono::steady_clock::now() < deadline) {
      uv_sleep(5);
    }
    CHECK(uv_loop_close(&m_loop) == 0);
  }

  [[nodiscard]] agent::act::ActionRunner& runner() { return *m_runner; }
  [[nodiscard]] uv_loop_t& loop() { return m_loop; }

  // Runs the loop until `condition` holds or `limit` passes; true when it held.
  template <class Condition>
  bool run_until(Condition condition, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    uv_timer_start(
        &m_ticker, [](uv_timer_t*) {}, 20, 20);
    while (!condition() && std::chrono::steady_clock::now() < deadline) {
      uv_run(&m_loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&m_ticker);
    return condition();
  }

  // Runs `action` and waits for its outcome.
  agent::act::RunOutcome run(const agent::act::Action& action, agent::act::BoundParams params = {},
                             std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::optional<agent::act::RunOutcome> outcome;
    auto queued = m_runner->run(action, std::move(params),
                                [&](const agent::act::RunOutcome& done) { outcome = done; });
    REQUIRE(queued);
    REQUIRE(run_until([&] { return outcome.has_value(); }, limit));
    return *outcome;
  }

private:
  uv_loop_t m_loop{};
  uv_timer_t m_ticker{};
  SystemClock m_clock;
  std::optional<agent::act::ActionRunner> m_runner;
};

inline agent::act::Action exec_action(
    std::vector<std::string> argv, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  agent::act::Action action;
  action.name = "test-exec";
  action.kind = agent::act::ActionKind::exec;
  action.timeout = timeout;
  agent::act::ExecSpec spec;
  spec.argv = std::move(argv);
  action.spec = std::move(spec);
  return action;
}

inline agent::act::BoundParams params(
    std::vector<std::pair<std::string, std::string>> values = {}) {
  return agent::act::BoundParams{std::move(values)};
}

// Live (not zombie) processes whose process group is `pgid`.
inline std::vector<pid_t> live_group_members(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* dir = ::opendir("/proc");
  REQUIRE(dir != nullptr);
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream file("/proc/" + name + "/stat");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream fields(text.substr(close + 2));
    char state = '?';
    long ppid = 0;
    long pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != 'Z' && state != 'X') {
      members.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  ::closedir(dir);
  return members;
}

} // namespace medic::test
