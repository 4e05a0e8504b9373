// SPDX-License-Identifier: Apache-2.0
// The first path through the whole system, with real processes: an agent samples this host and
// reports to a coordinator, which stores it in SQLite and shows it through medicctl.
#include <csignal>

#include <catch2/catch.hpp>

#include "shared/sqlite/database.hpp"
#include "tests/support/fleet_fixture.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;

namespace {

bool has_sample(const nlohmann::json& agent, const std::string& name) {
  for (const auto& sample : agent.value("latest", nlohmann::json::array())) {
    if (sample.value("name", "") == name) {
      return true;
    }
  }
  return false;
}

double sample_value(const nlohmann::json& agent, const std::string& name) {
  for (const auto& sample : agent.value("latest", nlohmann::json::array())) {
    if (sample.value("name", "") == name) {
      return sample.value("value", -1.0);
    }
  }
  return -1.0;
}

} // namespace

TEST_CASE("an agent reports CPU and memory that medicctl shows, and both stop cleanly") {
  Fleet fleet;
  const std::string endpoint = fleet.start_coordinator();
  REQUIRE(endpoint.starts_with("tcp://127.0.0.1:"));
  auto& agent = fleet.start_agent("e2e-agent-1");

  std::optional<nlohmann::json> seen;
  const bool reported = medic::test::wait_until(
      [&] {
        seen = fleet.agent("e2e-agent-1");
        return seen && has_sample(*seen, "cpu.usage_pct") && has_sample(*seen, "mem.used_pct");
      },
      15s, 100ms);
  INFO(fleet.logs());
  REQUIRE(reported);
  CHECK(seen->value("host", "") != "");
  CHECK(seen->value("version", "") == medic::build_info::k_version);
  CHECK(seen->at("labels").value("role", "") == "e2e");
  CHECK(seen->value("batches", 0) >= 1);
  const double cpu = sample_value(*seen, "cpu.usage_pct");
  const double mem = sample_value(*seen, "mem.used_pct");
  CHECK(cpu >= 0.0);
  CHECK(cpu <= 100.0);
  CHECK(mem > 0.0);
  CHECK(mem < 100.0);

  // The human table names the agent too.
  const auto table = medic::test::run_command(
      {medic::test::k_medicctl_bin, "--socket", fleet.socket_path(), "agents"});
  CHECK(table.status.exited_with(0));
  CHECK(table.output.find("e2e-agent-1") != std::string::npos);
  CHECK(table.output.find("CPU%") != std::string::npos);

  // Acks flow back: the coordinator stored and acked batches.
  const auto status = fleet.ctl("status");
  REQUIRE(status);
  CHECK(status->at("ingest").value("acks_sent", 0) >= 1);
  CHECK(status->at("ingest").value("malformed", 1) == 0);

  agent.signal(SIGTERM);
  fleet.coordinator().signal(SIGTERM);
  const auto agent_exit = agent.wait_for(2s);
  const auto coordinator_exit = fleet.coordinator().wait_for(2s);
  REQUIRE(agent_exit);
  REQUIRE(coordinator_exit);
  CHECK(agent_exit->exited_with(0));
  CHECK(coordinator_exit->exited_with(0));
  CHECK_FALSE(std::filesystem::exists(fleet.socket_path()));

  // What the coordinator stored is in the SQLite file, with the schema recorded.
  auto db = medic::sqlite::Database::open(fleet.db_path(), medic::sqlite::OpenMode::read_only);
  REQUIRE(db);
  auto versions = db->prepare("SELECT COUNT(*) FROM schema_migrations");
  REQUIRE(versions);
  REQUIRE(versions->step().value_or(false));
  CHECK(versions->column_int(0) >= 1);
  auto agents = db->prepare("SELECT COUNT(*) FROM latest_samples WHERE agent_id = 'e2e-agent-1'");
  REQUIRE(agents);
  REQUIRE(agents->step().value_or(false));
  CHECK(agents->column_int(0) >= 2);
}

TEST_CASE("two agents report to one coordinator and each is listed") {
  Fleet fleet;
  fleet.start_coordinator();
  fleet.start_agent("e2e-a");
  fleet.start_agent("e2e-b");
  const bool both = medic::test::wait_until(
      [&] { return fleet.agent("e2e-a").has_value() && fleet.agent("e2e-b").has_value(); }, 15s,
      100ms);
  INFO(fleet.logs());
  CHECK(both);
}

TEST_CASE("a restarted coordinator keeps what it stored and hears from the agent again") {
  Fleet fleet;
  fleet.start_coordinator();
  fleet.start_agent("e2e-restart");
  REQUIRE(medic::test::wait_until(
      [&] {
        const auto agent = fleet.agent("e2e-restart");
        return agent && agent->value("batches", 0) >= 1;
      },
      15s));
  REQUIRE(fleet.stop_coordinator(2s));
  // Same database, admin socket, key and port: a new process, and the agent reconnects by itself.
  fleet.start_coordinator(fleet.endpoint());
  const auto kept = fleet.agent("e2e-restart");
  INFO(fleet.logs());
  REQUIRE(kept);
  CHECK(kept->value("batches", 0) >= 1);
  CHECK(medic::test::wait_until(
      [&] {
        const auto now = fleet.agent("e2e-restart");
        return now && now->value("batches", 0) > kept->value("batches", 0) &&
               now->value("state", "") == "live";
      },
      15s));
}
