// SPDX-License-Identifier: Apache-2.0
// ActionRunner's slots and queue: the concurrency limit, a full queue, close() with runs in
// flight.
#include <chrono>
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

TEST_CASE("runner: at most max_concurrent run, max_queued wait, more are refused",
          "[act-runner][queue]") {
  TempDir dir;
  RunnerSettings settings;
  settings.max_concurrent = 2;
  settings.max_queued = 1;
  RunnerHarness harness(settings);
  // Each run counts itself in and out of a shared directory: the peak count is checked.
  const std::string script = "d=" + dir.path().string() +
                             "; touch $d/in.$$; ls $d | grep -c '^in' >> $d/peaks; "
                             "sleep 0.3; rm $d/in.$$";
  const Action action = exec_action({"/bin/sh", "-c", script});
  std::vector<RunOutcome> outcomes;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(harness.runner().run(action, {}, [&](const RunOutcome& o) { outcomes.push_back(o); }));
  }
  CHECK(harness.runner().running() == 2);
  CHECK(harness.runner().queued() == 1);
  const auto full = harness.runner().run(action, {}, [](const RunOutcome&) { FAIL("ran"); });
  REQUIRE(!full);
  CHECK(full.error().code() == medic::ErrorCode::busy);
  CHECK(full.error().message().find("queue is full") != std::string::npos);

  REQUIRE(harness.run_until([&] { return outcomes.size() == 3; }, 10s));
  for (const RunOutcome& outcome : outcomes) {
    CHECK(outcome.status == RunStatus::succeeded);
  }
  CHECK(harness.runner().running() == 0);
  CHECK(harness.runner().queued() == 0);
  const std::string peaks = medic::test::read_file(dir / "peaks");
  CHECK(peaks.find('3') == std::string::npos);
  CHECK(!peaks.empty());
}

TEST_CASE("runner: a Done may queue the next run", "[act-runner][queue]") {
  RunnerSettings settings;
  settings.max_concurrent = 1;
  settings.max_queued = 0;
  RunnerHarness harness(settings);
  const Action action = exec_action({"/bin/true"});
  int finished = 0;
  std::function<void(const RunOutcome&)> again = [&](const RunOutcome& outcome) {
    CHECK(outcome.status == RunStatus::succeeded);
    if (++finished < 3) {
      // The slot is still busy while its Done runs: with no queue room this is refused.
      CHECK(!harness.runner().run(action, {}, again));
    }
  };
  REQUIRE(harness.runner().run(action, {}, again));
  REQUIRE(harness.run_until([&] { return finished == 1; }, 5s));
  REQUIRE(harness.runner().run(action, {}, again));
  REQUIRE(harness.run_until([&] { return finished == 2; }, 5s));
}

TEST_CASE("runner: close() ends running and queued runs as failed, kills the child",
          "[act-runner][queue]") {
  TempDir dir;
  const std::string pid_file = (dir / "pid").string();
  RunnerSettings settings;
  settings.max_concurrent = 1;
  std::vector<RunOutcome> outcomes;
  pid_t pgid = 0;
  {
    RunnerHarness harness(settings);
    const Action slow = exec_action({"/bin/sh", "-c", "echo $$ > " + pid_file + "; sleep 1000"});
    REQUIRE(harness.runner().run(slow, {}, [&](const RunOutcome& o) { outcomes.push_back(o); }));
    REQUIRE(harness.runner().run(slow, {}, [&](const RunOutcome& o) { outcomes.push_back(o); }));
    REQUIRE(harness.run_until([&] { return !medic::test::read_file(pid_file).empty(); }, 5s));
    pgid = static_cast<pid_t>(std::stol(medic::test::read_file(pid_file)));
    harness.runner().close();
    REQUIRE(outcomes.size() == 2);
    for (const RunOutcome& outcome : outcomes) {
      CHECK(outcome.status == RunStatus::failed);
      CHECK(outcome.reason == "agent stopping");
    }
    CHECK(!harness.runner().run(slow, {}, [](const RunOutcome&) {}));
  }                            // the harness runs the loop until every handle closed
  CHECK(outcomes.size() == 2); // no second Done
  CHECK(medic::test::wait_until([&] { return medic::test::live_group_members(pgid).empty(); }, 2s));
}
