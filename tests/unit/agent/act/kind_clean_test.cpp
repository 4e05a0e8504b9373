// SPDX-License-Identifier: Apache-2.0
// The clean kind on real files: age and size bounds, globs, and symlinks that point outside.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/act/runner_harness.hpp"

using namespace medic::agent::act;
using namespace std::chrono_literals;
using medic::test::params;
using medic::test::RunnerHarness;
using medic::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A file of `bytes` bytes whose modification time is `age` ago.
void plant(const fs::path& path, std::size_t bytes, std::chrono::seconds age) {
  medic::test::write_file(path, std::string(bytes, 'x'));
  const auto when = std::chrono::system_clock::now() - age;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch());
  const timespec times[2] = {{seconds.count(), 0}, {seconds.count(), 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

void plant_link(const fs::path& target, const fs::path& link, std::chrono::seconds age) {
  fs::create_symlink(target, link);
  const auto when = std::chrono::system_clock::now() - age;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch());
  const timespec times[2] = {{seconds.count(), 0}, {seconds.count(), 0}};
  REQUIRE(::utimensat(AT_FDCWD, link.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

Action clean_action(CleanSpec spec) {
  Action action;
  action.name = "clean-cache";
  action.kind = ActionKind::clean;
  action.spec = std::move(spec);
  return action;
}

} // namespace

TEST_CASE("clean: files older than the bound go, symlinks out are never followed",
          "[act-runner][clean]") {
  TempDir dir;
  const fs::path cache = dir / "cache";
  const fs::path outside = dir / "outside";
  fs::create_directories(cache / "sub");
  fs::create_directories(outside);
  plant(cache / "old.tmp", 100, 7200s);
  plant(cache / "new.tmp", 100, 10s);
  plant(cache / "sub" / "old-deep.tmp", 100, 7200s);
  plant(outside / "precious", 100, 7200s);
  plant(outside / "precious-dir-file", 100, 7200s);
  // A link to an old file outside, and a linked directory holding old files outside.
  plant_link(outside / "precious", cache / "link-to-outside", 7200s);
  fs::create_directory_symlink(outside, cache / "linked-dir");

  CleanSpec spec;
  spec.directory = cache.string();
  spec.older_than = 3600s;
  spec.recursive = true;
  RunnerHarness harness;
  const RunOutcome outcome = harness.run(clean_action(spec));
  CHECK(outcome.status == RunStatus::succeeded);
  CHECK(!fs::exists(cache / "old.tmp"));
  CHECK(!fs::exists(cache / "sub" / "old-deep.tmp"));
  CHECK(fs::exists(cache / "new.tmp"));
  CHECK(!fs::is_symlink(cache / "link-to-outside")); // the link itself went
  CHECK(fs::is_symlink(cache / "linked-dir"));       // a directory link is never entered
  CHECK(fs::exists(outside / "precious"));
  CHECK(fs::exists(outside / "precious-dir-file"));
  CHECK(outcome.plan.find("deleted 3 of 5 files") != std::string::npos);
  CHECK(outcome.output.find("sub/old-deep.tmp\n") != std::string::npos);
}

TEST_CASE("clean: oldest first down to the size bound, only matching names",
          "[act-runner][clean]") {
  TempDir dir;
  const fs::path cache = dir / "cache";
  fs::create_directories(cache / "sub");
  plant(cache / "a.log", 1000, 400s);
  plant(cache / "b.log", 1000, 300s);
  plant(cache / "c.log", 1000, 200s);
  plant(cache / "d.log", 1000, 100s);
  plant(cache / "keep.dat", 5000, 900s);
  plant(cache / "sub" / "deep.log", 1000, 900s); // not recursive: left alone

  CleanSpec spec;
  spec.directory = "{dir}";
  spec.name_glob = "*.log";
  spec.max_total_bytes = 2500;
  RunnerHarness harness;
  const RunOutcome outcome = harness.run(clean_action(spec), params({{"dir", cache.string()}}));
  CHECK(outcome.status == RunStatus::succeeded);
  CHECK(!fs::exists(cache / "a.log"));
  CHECK(!fs::exists(cache / "b.log"));
  CHECK(fs::exists(cache / "c.log"));
  CHECK(fs::exists(cache / "d.log"));
  CHECK(fs::exists(cache / "keep.dat"));
  CHECK(fs::exists(cache / "sub" / "deep.log"));
  CHECK(outcome.plan.find("deleted 2 of 4 files, 2000 bytes") != std::string::npos);
}

TEST_CASE("clean: age and size together, dry-run deletes nothing", "[act-runner][clean]") {
  TempDir dir;
  const fs::path cache = dir / "cache";
  fs::create_directories(cache);
  plant(cache / "ancient", 10, 90000s);
  plant(cache / "older", 1000, 500s);
  plant(cache / "newer", 1000, 50s);
  CleanSpec spec;
  spec.directory = cache.string();
  spec.older_than = 86400s;
  spec.max_total_bytes = 1500;

  SECTION("dry-run") {
    RunnerSettings settings;
    settings.dry_run = true;
    RunnerHarness harness(settings);
    const RunOutcome outcome = harness.run(clean_action(spec));
    CHECK(outcome.status == RunStatus::dry_run);
    CHECK(outcome.plan.find("would delete 2 of 3 files, 1010 bytes") != std::string::npos);
    CHECK(fs::exists(cache / "ancient"));
    CHECK(fs::exists(cache / "older"));
  }
  SECTION("for real") {
    RunnerHarness harness;
    const RunOutcome outcome = harness.run(clean_action(spec));
    CHECK(outcome.status == RunStatus::succeeded);
    CHECK(!fs::exists(cache / "ancient"));
    CHECK(!fs::exists(cache / "older"));
    CHECK(fs::exists(cache / "newer"));
  }
}

TEST_CASE("clean: a symlinked directory itself is refused", "[act-runner][clean]") {
  TempDir dir;
  fs::create_directories(dir / "real");
  plant(dir / "real" / "old", 10, 90000s);
  fs::create_directory_symlink(dir / "real", dir / "link");
  CleanSpec spec;
  spec.directory = (dir / "link").string();
  spec.older_than = 1s;
  RunnerHarness harness;
  const RunOutcome outcome = harness.run(clean_action(spec));
  CHECK(outcome.status == RunStatus::refused);
  CHECK(fs::exists(dir / "real" / "old"));

  spec.directory = (dir / "missing").string();
  CHECK(harness.run(clean_action(spec)).status == RunStatus::failed);
}
