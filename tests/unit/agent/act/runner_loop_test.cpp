// SPDX-License-Identifier: Apache-2.0
// ActionRunner keeps the loop free (blocking preparation runs in the threadpool), stops cleanly
// during a preparation, and leaks no descriptor.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/act/runner_harness.hpp"

using namespace medic::agent::act;
using namespace std::chrono_literals;
using medic::test::exec_action;
using medic::test::RunnerHarness;
using medic::test::TempDir;

namespace {

std::size_t open_fds() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// A file of `megabytes` MiB, to make hashing take a while.
void big_file(const std::filesystem::path& path, std::size_t megabytes) {
  std::ofstream out(path, std::ios::binary);
  const std::string block(1 << 20, 'm');
  for (std::size_t i = 0; i < megabytes; ++i) {
    out << block;
  }
}

struct Ticker {
  uv_timer_t timer{};
  std::uint64_t last_ms = 0;
  std::uint64_t worst_gap_ms = 0;
};

} // namespace

TEST_CASE("runner: hashing a pinned binary does not stall the loop", "[act-runner][loop]") {
  TempDir dir;
  big_file(dir / "big-tool", 128);
  RunnerHarness harness;
  Action action = exec_action({(dir / "big-tool").string()});
  std::get<ExecSpec>(action.spec).sha256 = std::string(64, 'a');

  Ticker ticker;
  uv_timer_init(&harness.loop(), &ticker.timer);
  ticker.timer.data = &ticker;
  ticker.last_ms = uv_now(&harness.loop());
  uv_timer_start(
      &ticker.timer,
      [](uv_timer_t* timer) {
        auto* self = static_cast<Ticker*>(timer->data);
        uv_update_time(timer->loop);
        const std::uint64_t now = uv_now(timer->loop);
        self->worst_gap_ms = std::max(self->worst_gap_ms, now - self->last_ms);
        self->last_ms = now;
      },
      5, 5);
  const auto start = std::chrono::steady_clock::now();
  const RunOutcome outcome = harness.run(action);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  uv_close(reinterpret_cast<uv_handle_t*>(&ticker.timer), nullptr);
  CHECK(outcome.status == RunStatus::refused);
  INFO("hashing 128 MiB took " << took.count() << " ms; worst loop gap " << ticker.worst_gap_ms
                               << " ms");
  CHECK(ticker.worst_gap_ms < 100);
}

TEST_CASE("runner: close() during a preparation", "[act-runner][loop]") {
  TempDir dir;
  big_file(dir / "big-tool", 64);
  std::vector<RunOutcome> outcomes;
  {
    RunnerHarness harness;
    Action action = exec_action({(dir / "big-tool").string()});
    std::get<ExecSpec>(action.spec).sha256 = std::string(64, 'a');
    REQUIRE(harness.runner().run(action, {}, [&](const RunOutcome& o) { outcomes.push_back(o); }));
    harness.runner().close();
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes.front().reason == "agent stopping");
  } // the loop runs until the preparation ended
  CHECK(outcomes.size() == 1);
}

TEST_CASE("runner: no descriptor is left open after runs of every kind", "[act-runner][loop]") {
  TempDir dir;
  medic::test::Process sleeper({"/bin/sleep", "1000"}, dir / "log");
  REQUIRE(medic::test::wait_until(
      [&] {
        return medic::test::read_file("/proc/" + std::to_string(sleeper.pid()) + "/comm") ==
               "sleep\n";
      },
      5s));
  RunnerHarness harness;
  // The first run makes libuv set up what it keeps for good (its threadpool, child watcher).
  CHECK(harness.run(exec_action({"/bin/echo", "hi"})).status == RunStatus::succeeded);
  const std::size_t before = open_fds();
  CHECK(harness.run(exec_action({"/bin/echo", "hi"})).status == RunStatus::succeeded);
  CHECK(harness.run(exec_action({"/bin/sh", "-c", "sleep 5"}, 100ms)).status ==
        RunStatus::timed_out);
  CHECK(harness.run(exec_action({"/nonexistent"})).status == RunStatus::failed);
  Action signal;
  signal.kind = ActionKind::signal;
  SignalSpec spec;
  spec.pid = std::to_string(sleeper.pid());
  signal.spec = spec;
  CHECK(harness.run(signal).status == RunStatus::succeeded);
  Action clean;
  clean.kind = ActionKind::clean;
  CleanSpec clean_spec;
  clean_spec.directory = dir.path().string();
  clean_spec.older_than = 3600s;
  clean_spec.recursive = true;
  clean.spec = clean_spec;
  CHECK(harness.run(clean).status == RunStatus::succeeded);
  CHECK(open_fds() == before);
}
