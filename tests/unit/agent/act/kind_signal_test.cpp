// SPDX-License-Identifier: Apache-2.0
// The signal kind against real processes: copies of sleep under a name no other process on the
// machine has, so nothing but the test's own children can match.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/act/runner_harness.hpp"

using namespace medic::agent::act;
using namespace std::chrono_literals;
using medic::test::params;
using medic::test::Process;
using medic::test::RunnerHarness;
using medic::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string unique_name() {
  std::random_device random;
  return "mdsl" + std::to_string(100000 + random() % 900000);
}

// Waits until `pid` runs the program named `name` (a spawned child execs a moment later).
void wait_for_exec(pid_t pid, const std::string& name) {
  const fs::path comm = "/proc/" + std::to_string(pid) + "/comm";
  REQUIRE(medic::test::wait_until([&] { return medic::test::read_file(comm) == name + "\n"; }, 5s));
}

Action signal_action(SignalSpec spec) {
  Action action;
  action.name = "kill-runaway";
  action.kind = ActionKind::signal;
  action.spec = std::move(spec);
  return action;
}

} // namespace

TEST_CASE("signal: by process name, every match and only those", "[act-runner][signal]") {
  TempDir dir;
  const std::string name = unique_name();
  fs::copy_file("/bin/sleep", dir / name);
  Process first({(dir / name).string(), "1000"}, dir / "log");
  Process second({(dir / name).string(), "1000"}, dir / "log");
  Process other({"/bin/sleep", "1000"}, dir / "log");
  wait_for_exec(first.pid(), name);
  wait_for_exec(second.pid(), name);

  RunnerHarness harness;
  SignalSpec spec;
  spec.process_name = "{name}";
  const RunOutcome outcome = harness.run(signal_action(spec), params({{"name", name}}));
  CHECK(outcome.status == RunStatus::succeeded);
  CHECK(outcome.plan.find(std::to_string(first.pid())) != std::string::npos);
  CHECK(outcome.plan.find(std::to_string(second.pid())) != std::string::npos);
  CHECK(outcome.plan.find("15 (SIGTERM)") != std::string::npos);
  const auto first_status = first.wait_for(5s);
  const auto second_status = second.wait_for(5s);
  REQUIRE(first_status);
  REQUIRE(second_status);
  CHECK(first_status->signal == SIGTERM);
  CHECK(second_status->signal == SIGTERM);
  CHECK(other.running());

  const RunOutcome none = harness.run(signal_action(spec), params({{"name", name}}));
  CHECK(none.status == RunStatus::failed);
  CHECK(none.reason.find("no process matched process_name") != std::string::npos);
}

TEST_CASE("signal: by pid file, by pid and by command line", "[act-runner][signal]") {
  TempDir dir;
  RunnerHarness harness;
  const std::string marker = unique_name();

  SECTION("pid file") {
    Process sleeper({"/bin/sleep", "1000"}, dir / "log");
    wait_for_exec(sleeper.pid(), "sleep");
    medic::test::write_file(dir / "app.pid", std::to_string(sleeper.pid()) + "\n");
    SignalSpec spec;
    spec.pid_file = (dir / "app.pid").string();
    spec.signal = SIGKILL;
    const RunOutcome outcome = harness.run(signal_action(spec));
    CHECK(outcome.status == RunStatus::succeeded);
    const auto status = sleeper.wait_for(5s);
    REQUIRE(status);
    CHECK(status->signal == SIGKILL);
  }
  SECTION("pid") {
    Process sleeper({"/bin/sleep", "1000"}, dir / "log");
    wait_for_exec(sleeper.pid(), "sleep");
    SignalSpec spec;
    spec.pid = "{pid}";
    const RunOutcome outcome =
        harness.run(signal_action(spec), params({{"pid", std::to_string(sleeper.pid())}}));
    CHECK(outcome.status == RunStatus::succeeded);
    CHECK(outcome.plan.find("signalled " + std::to_string(sleeper.pid())) != std::string::npos);
    const auto status = sleeper.wait_for(5s);
    REQUIRE(status);
    CHECK(status->signal == SIGTERM);
  }
  SECTION("command line") {
    // The marker is a duration sleep accepts ("1000.<digits>"), unique to this process.
    const std::string seconds = "1000." + marker.substr(4);
    Process sleeper({"/bin/sleep", seconds}, dir / "log");
    wait_for_exec(sleeper.pid(), "sleep");
    SignalSpec spec;
    spec.cmdline = "^/bin/sleep " + seconds + "$";
    const RunOutcome outcome = harness.run(signal_action(spec));
    CHECK(outcome.status == RunStatus::succeeded);
    const auto status = sleeper.wait_for(5s);
    REQUIRE(status);
    CHECK(status->signal == SIGTERM);
  }
}

TEST_CASE("signal: never pid 1, never the agent, nothing for a stale pid file",
          "[act-runner][signal]") {
  TempDir dir;
  RunnerHarness harness;
  SignalSpec spec;
  spec.pid = "{pid}";
  const RunOutcome init = harness.run(signal_action(spec), params({{"pid", "1"}}));
  CHECK(init.status == RunStatus::refused);
  CHECK(init.reason.find("never signalled") != std::string::npos);
  const RunOutcome self =
      harness.run(signal_action(spec), params({{"pid", std::to_string(::getpid())}}));
  CHECK(self.status == RunStatus::refused);
  const RunOutcome kthread = harness.run(signal_action(spec), params({{"pid", "2"}}));
  CHECK(kthread.status != RunStatus::succeeded); // kthreadd, or nothing in a pid namespace

  SignalSpec by_file;
  by_file.pid_file = (dir / "missing.pid").string();
  const RunOutcome missing = harness.run(signal_action(by_file));
  CHECK(missing.status == RunStatus::refused);
  CHECK(missing.reason.find("missing.pid") != std::string::npos);
}

TEST_CASE("signal: dry-run lists the pids and signals nothing", "[act-runner][signal]") {
  TempDir dir;
  const std::string name = unique_name();
  fs::copy_file("/bin/sleep", dir / name);
  Process sleeper({(dir / name).string(), "1000"}, dir / "log");
  wait_for_exec(sleeper.pid(), name);
  RunnerSettings settings;
  settings.dry_run = true;
  RunnerHarness harness(settings);
  SignalSpec spec;
  spec.process_name = name;
  const RunOutcome outcome = harness.run(signal_action(spec));
  CHECK(outcome.status == RunStatus::dry_run);
  CHECK(outcome.plan.find(std::to_string(sleeper.pid())) != std::string::npos);
  medic::test::sleep_for(100ms);
  CHECK(sleeper.running());
}
