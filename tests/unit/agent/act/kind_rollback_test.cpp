// SPDX-License-Identifier: Apache-2.0
// The rollback kind on a real releases/ + current layout.
#include <chrono>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/act/runner_harness.hpp"

using namespace medic::agent::act;
using medic::test::RunnerHarness;
using medic::test::TempDir;
namespace fs = std::filesystem;

namespace {

Action rollback_action(const TempDir& dir, std::vector<std::string> reload = {}) {
  Action action;
  action.name = "rollback-app";
  action.kind = ActionKind::rollback;
  RollbackSpec spec;
  spec.releases_dir = (dir / "releases").string();
  spec.current_link = (dir / "current").string();
  spec.reload_argv = std::move(reload);
  action.spec = std::move(spec);
  return action;
}

// releases/v1, v2, v3 (and a file and a symlink that are not releases), current -> `target`.
void layout(const TempDir& dir, const std::string& target) {
  for (const char* release : {"v1", "v2", "v3"}) {
    fs::create_directories(dir / "releases" / release);
  }
  medic::test::write_file(dir / "releases" / "v0-notes.txt", "not a release");
  fs::create_directory_symlink(dir / "releases" / "v3", dir / "releases" / "v2a-link");
  fs::create_symlink(target, dir / "current");
}

} // namespace

TEST_CASE("rollback: switches current to the previous release, then reloads",
          "[act-runner][rollback]") {
  TempDir dir;
  layout(dir, "releases/v3");
  RunnerHarness harness;
  const std::string reloaded = (dir / "reloaded").string();
  const Action action = rollback_action(dir, {"/bin/sh", "-c", "echo reloaded >> " + reloaded});

  const RunOutcome first = harness.run(action);
  CHECK(first.status == RunStatus::succeeded);
  CHECK(fs::read_symlink(dir / "current") == "releases/v2"); // the relative form is kept
  CHECK(first.plan.find("current: v3 -> v2") != std::string::npos);
  CHECK(medic::test::read_file(reloaded) == "reloaded\n");

  const RunOutcome second = harness.run(action);
  CHECK(second.status == RunStatus::succeeded);
  CHECK(fs::read_symlink(dir / "current") == "releases/v1");

  const RunOutcome third = harness.run(action);
  CHECK(third.status == RunStatus::refused);
  CHECK(third.reason.find("no previous release") != std::string::npos);
  CHECK(fs::read_symlink(dir / "current") == "releases/v1");
  CHECK(medic::test::read_file(reloaded) == "reloaded\nreloaded\n"); // not run when refused
  // No temporary link is left beside current.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) {
    ++entries;
  }
  CHECK(entries == 3); // releases, current, reloaded
}

TEST_CASE("rollback: an absolute link stays absolute, a failing reload fails the run",
          "[act-runner][rollback]") {
  TempDir dir;
  layout(dir, (dir / "releases" / "v2").string());
  RunnerHarness harness;
  const RunOutcome outcome = harness.run(rollback_action(dir, {"/bin/false"}));
  CHECK(outcome.status == RunStatus::failed);
  CHECK(outcome.exit_code == 1);
  CHECK(fs::read_symlink(dir / "current") == dir / "releases" / "v1"); // switched all the same
}

TEST_CASE("rollback: current outside releases_dir is refused", "[act-runner][rollback]") {
  TempDir dir;
  fs::create_directories(dir / "elsewhere" / "v9");
  layout(dir, (dir / "elsewhere" / "v9").string());
  RunnerHarness harness;
  const RunOutcome outcome = harness.run(rollback_action(dir));
  CHECK(outcome.status == RunStatus::refused);
  CHECK(outcome.reason.find("is not a release in") != std::string::npos);
  CHECK(fs::read_symlink(dir / "current") == dir / "elsewhere" / "v9");

  fs::remove(dir / "current");
  fs::create_directory(dir / "current"); // not a symlink
  CHECK(harness.run(rollback_action(dir)).status == RunStatus::refused);
}

TEST_CASE("rollback: dry-run says what would switch and leaves the link",
          "[act-runner][rollback]") {
  TempDir dir;
  layout(dir, "releases/v2");
  RunnerSettings settings;
  settings.dry_run = true;
  RunnerHarness harness(settings);
  const RunOutcome outcome = harness.run(rollback_action(dir, {"/usr/bin/touch", "/x"}));
  CHECK(outcome.status == RunStatus::dry_run);
  CHECK(outcome.plan == "rollback " + (dir / "current").string() +
                            ": current: v2 -> v1; then reload: /usr/bin/touch /x");
  CHECK(fs::read_symlink(dir / "current") == "releases/v2");
}
