// SPDX-License-Identifier: Apache-2.0
// The service kind through a fake systemctl (systemd is not PID 1 here) and an init script.
#include <chrono>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/act/runner_harness.hpp"

using namespace medic::agent::act;
using medic::test::params;
using medic::test::read_file;
using medic::test::RunnerHarness;
using medic::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A copy of tests/fixtures/act/fake-systemctl at `path`; it records its argv in path + ".argv".
std::string install_fake(const fs::path& path) {
  fs::copy_file(fs::path(MEDIC_FIXTURES_DIR) / "act" / "fake-systemctl", path);
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::add);
  return path.string();
}

Action service_action(ServiceSpec spec) {
  Action action;
  action.name = "restart-service";
  action.kind = ActionKind::service;
  for (const char* name : {"unit", "op"}) {
    ParamSpec param;
    param.name = name;
    action.params.push_back(param);
  }
  action.spec = std::move(spec);
  return action;
}

} // namespace

TEST_CASE("service: systemctl <operation> <unit> when systemd runs", "[act-runner][service]") {
  TempDir dir;
  RunnerSettings settings;
  settings.systemd_marker = (dir / "systemd-system").string();
  fs::create_directory(settings.systemd_marker);
  RunnerHarness harness(settings);
  ServiceSpec spec;
  spec.unit = "{unit}";
  spec.operation = "{op}";
  spec.systemctl = install_fake(dir / "systemctl");
  spec.init_script = install_fake(dir / "init-script");
  const Action action = service_action(spec);

  const RunOutcome outcome =
      harness.run(action, params({{"unit", "web.service"}, {"op", "restart"}}));
  CHECK(outcome.status == RunStatus::succeeded);
  CHECK(read_file(dir / "systemctl.argv") == "restart\nweb.service\n");
  CHECK(!fs::exists(dir / "init-script.argv"));
  CHECK(outcome.plan == "service (systemd): " + spec.systemctl + " restart web.service");

  medic::test::write_file(dir / "systemctl.exit", "5\n");
  const RunOutcome failed = harness.run(action, params({{"unit", "web"}, {"op", "stop"}}));
  CHECK(failed.status == RunStatus::failed);
  CHECK(failed.exit_code == 5);

  const RunOutcome bad_op = harness.run(action, params({{"unit", "web"}, {"op", "mask"}}));
  CHECK(bad_op.status == RunStatus::refused);
  CHECK(bad_op.reason.find("start, stop, restart, reload") != std::string::npos);
  const RunOutcome option = harness.run(action, params({{"unit", "--force"}, {"op", "stop"}}));
  CHECK(option.status == RunStatus::refused);
  CHECK(read_file(dir / "systemctl.argv") == "stop\nweb\n"); // neither refusal ran anything
}

TEST_CASE("service: the init script when systemd is absent", "[act-runner][service]") {
  TempDir dir;
  RunnerSettings settings;
  settings.systemd_marker = (dir / "no-systemd").string();
  RunnerHarness harness(settings);
  ServiceSpec spec;
  spec.unit = "web";
  spec.operation = "reload";
  spec.systemctl = install_fake(dir / "systemctl");
  spec.init_script = install_fake(dir / "init-script");
  const RunOutcome outcome = harness.run(service_action(spec));
  CHECK(outcome.status == RunStatus::succeeded);
  CHECK(read_file(dir / "init-script.argv") == "reload\n");
  CHECK(!fs::exists(dir / "systemctl.argv"));

  spec.init_script.clear();
  const RunOutcome none = harness.run(service_action(spec));
  CHECK(none.status == RunStatus::refused);
  CHECK(none.reason.find("no init_script") != std::string::npos);
}

TEST_CASE("service: dry-run names the command and runs nothing", "[act-runner][service]") {
  TempDir dir;
  RunnerSettings settings;
  settings.systemd_marker = dir.path().string(); // exists: systemd
  settings.dry_run = true;
  RunnerHarness harness(settings);
  ServiceSpec spec;
  spec.unit = "db";
  spec.systemctl = install_fake(dir / "systemctl");
  const RunOutcome outcome = harness.run(service_action(spec));
  CHECK(outcome.status == RunStatus::dry_run);
  CHECK(outcome.plan == "service (systemd): " + spec.systemctl + " restart db");
  CHECK(!fs::exists(dir / "systemctl.argv"));
}
