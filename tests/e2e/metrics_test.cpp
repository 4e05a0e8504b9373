// SPDX-License-Identifier: Apache-2.0
// GET /metrics of a real coordinator with a real agent reporting to it: Debian's promtool
// accepts the exposition, the batch and sample counters grow as the agent reports, the agent
// shows as live, and storage write latency has observations. A non-loopback metrics.listen is a
// config error: the coordinator refuses to start (exit 2) and says why.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include <catch2/catch.hpp>

#include "tests/support/fleet_fixture.hpp"
#include "tests/support/loopback_server.hpp"

extern char** environ;

using namespace std::chrono_literals;
using medic::test::Fleet;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_promtool = "/usr/bin/promtool";
constexpr const char* k_curl = "/usr/bin/curl";

std::string scrape(int port) {
  const auto result = medic::test::run_command(
      {k_curl, "-sS", "--max-time", "5", "http://127.0.0.1:" + std::to_string(port) + "/metrics"});
  return result.status.exited_with(0) ? result.output : std::string();
}

// The value of the series written exactly as `series` (name and labels), if present.
std::optional<double> value_of(const std::string& text, const std::string& series) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string_view line(text.data() + start, end - start);
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
      return std::stod(std::string(line.substr(series.size() + 1)));
    }
    start = end + 1;
  }
  return std::nullopt;
}

struct Checked {
  int code = -1;
  std::string output;
};

// promtool check metrics reads the exposition on stdin.
Checked promtool_check(const fs::path& input, const fs::path& output) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, input.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string program = k_promtool;
  std::string check = "check";
  std::string metrics = "metrics";
  char* argv[] = {program.data(), check.data(), metrics.data(), nullptr};
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, k_promtool, &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  Checked checked;
  if (spawned != 0) {
    checked.output = "posix_spawn failed";
    return checked;
  }
  int status = 0;
  const bool ended =
      medic::test::wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 20s, 20ms);
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  checked.code = ended && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  checked.output = medic::test::read_file(output);
  return checked;
}

} // namespace

TEST_CASE("metrics: promtool accepts /metrics and the counters follow a real agent") {
  REQUIRE(fs::exists(k_promtool));
  Fleet fleet;
  const int port = medic::test::free_loopback_port();
  REQUIRE(port > 0);
  fleet.start_coordinator("tcp://127.0.0.1:*",
                          "metrics:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n");
  INFO(fleet.logs());
  const std::string before = scrape(port);
  REQUIRE(!before.empty());
  CHECK(before.find("# TYPE medic_ingest_batches_total counter") != std::string::npos);
  CHECK(value_of(before, "medic_build_info{version=\"" + std::string(medic::build_info::k_version) +
                             "\"}") == 1.0);
  CHECK(value_of(before, "medic_agents{state=\"live\"}") == 0.0);
  const double batches_before = value_of(before, "medic_ingest_batches_total").value_or(-1);
  CHECK(batches_before == 0.0);

  fleet.start_agent("metrics-agent-1");
  std::string text;
  REQUIRE(medic::test::wait_until(
      [&] {
        text = scrape(port);
        return value_of(text, "medic_ingest_batches_total").value_or(0) >= 2 &&
               value_of(text, "medic_agents{state=\"live\"}") == 1.0;
      },
      20s, 200ms));
  INFO(text);
  CHECK(value_of(text, "medic_ingest_samples_total").value_or(0) > 0);
  CHECK(value_of(text, "medic_agents{state=\"lost\"}") == 0.0);
  CHECK(value_of(text, "medic_ingest_messages_total{type=\"hello\"}").value_or(0) >= 1);
  CHECK(value_of(text, "medic_storage_write_seconds_count").value_or(0) >= 1);
  CHECK(value_of(text, "medic_storage_write_seconds_bucket{le=\"+Inf\"}") ==
        value_of(text, "medic_storage_write_seconds_count"));
  CHECK(value_of(text, "medic_agent_keys_enrolled") == 1.0);
  CHECK(value_of(text, "medic_ingest_decode_errors_total{reason=\"malformed\"}") == 0.0);
  CHECK(value_of(text, "medic_metrics_collect_timeouts_total") == 0.0);
  CHECK(value_of(text, "process_resident_memory_bytes").value_or(0) > 0);

  // The counters keep growing while the agent reports.
  const double batches = value_of(text, "medic_ingest_batches_total").value_or(0);
  const double samples = value_of(text, "medic_ingest_samples_total").value_or(0);
  REQUIRE(medic::test::wait_until(
      [&] {
        text = scrape(port);
        return value_of(text, "medic_ingest_batches_total").value_or(0) > batches &&
               value_of(text, "medic_ingest_samples_total").value_or(0) > samples;
      },
      10s, 200ms));

  const fs::path exposition = fleet.dir() / "metrics.prom";
  medic::test::write_file(exposition, text);
  const auto checked = promtool_check(exposition, fleet.dir() / "promtool.out");
  INFO("promtool said: " << checked.output);
  CHECK(checked.code == 0);
}

TEST_CASE("metrics: a non-loopback metrics.listen is refused with a clear config error") {
  const medic::test::TempDir dir;
  const fs::path config = dir / "coordinator.yaml";
  medic::test::write_file(config, "metrics:\n  listen: 0.0.0.0:9464\n");
  auto checked = medic::test::run_command(
      {medic::test::k_coordinator_bin, "--config", config.string(), "--check-config"});
  INFO(checked.output << checked.errors);
  CHECK(checked.status.exited_with(2));
  const std::string said = checked.output + checked.errors;
  CHECK(said.find("metrics.listen") != std::string::npos);
  CHECK(said.find("loopback address only") != std::string::npos);

  // And the daemon itself does not start on it (exit 2 before it binds anything).
  medic::test::write_file(config,
                          "storage:\n  url: sqlite://" + (dir / "medic.db").string() +
                              "\nadmin:\n  socket: " + (dir / "admin.sock").string() +
                              "\nsecurity:\n  key_file: " + (dir / "coordinator.key").string() +
                              "\nmetrics:\n  listen: 192.168.1.1:9464\n");
  auto started =
      medic::test::run_command({medic::test::k_coordinator_bin, "--config", config.string()});
  INFO(started.output << started.errors);
  CHECK(started.status.exited_with(2));
  CHECK((started.output + started.errors).find("loopback address only") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "admin.sock"));

  // off is accepted.
  medic::test::write_file(config, "metrics:\n  listen: \"off\"\n");
  CHECK(medic::test::run_command(
            {medic::test::k_coordinator_bin, "--config", config.string(), "--check-config"})
            .status.exited_with(0));
}
