// SPDX-License-Identifier: Apache-2.0
// The coordinator on PostgreSQL, with real processes: its state (agents, incidents, audit,
// learned state) lives in a real PostgreSQL server (MEDIC_TEST_POSTGRES_URL, started by
// scripts/pg_test_server.sh), a crashed service is healed through it, and a restarted
// coordinator finds everything again. Each run uses its own schema, dropped at the end.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include <catch2/catch.hpp>

#include "tests/e2e/brain_helpers.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;
using namespace medic::test::brain;

namespace {

std::string psql(const std::string& url, const std::string& sql) {
  const auto result = medic::test::run_command(
      {"/usr/bin/psql", url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql});
  INFO(result.errors);
  REQUIRE(result.status.exited_with(0));
  return result.output;
}

// A schema of our own in the test server's database, and the coordinator pointed at it through
// its environment override (MEDIC_COORDINATOR_STORAGE_URL).
class PostgresSchema {
public:
  PostgresSchema() {
    const char* url = std::getenv("MEDIC_TEST_POSTGRES_URL");
    if (url == nullptr || *url == '\0') {
      FAIL("MEDIC_TEST_POSTGRES_URL is not set: run `eval \"$(scripts/pg_test_server.sh start)\"`");
    }
    m_admin_url = url;
    m_schema = "medic_e2e_" + std::to_string(::getpid());
    psql(m_admin_url, "DROP SCHEMA IF EXISTS " + m_schema + " CASCADE; CREATE SCHEMA " + m_schema);
    const std::string store_url = m_admin_url +
                                  (m_admin_url.find('?') == std::string::npos ? "?" : "&") +
                                  "options=-csearch_path%3D" + m_schema;
    ::setenv("MEDIC_COORDINATOR_STORAGE_URL", store_url.c_str(), 1);
  }
  ~PostgresSchema() {
    ::unsetenv("MEDIC_COORDINATOR_STORAGE_URL");
    (void)medic::test::run_command({"/usr/bin/psql", m_admin_url, "-X", "-q", "-c",
                                    "DROP SCHEMA IF EXISTS " + m_schema + " CASCADE"});
  }
  [[nodiscard]] long count(const std::string& table) const {
    return std::stol(psql(m_admin_url, "SELECT COUNT(*) FROM " + m_schema + "." + table));
  }

private:
  std::string m_admin_url;
  std::string m_schema;
};

} // namespace

TEST_CASE("the coordinator heals through PostgreSQL and finds its state again after a restart") {
  PostgresSchema schema;
  Fleet fleet;
  TestService service(fleet, "medic-pg-svc");
  const std::string config = coordinator_config(write_rules(fleet, "auto"));
  start_watching(fleet, service, "web-1", "web", "low", config);
  INFO(fleet.logs());
  CHECK(schema.count("agents") == 1); // in PostgreSQL, not in a SQLite file

  REQUIRE(service.crash());
  REQUIRE(medic::test::wait_until([&] { return service.running(); }, 30s, 50ms));
  const auto incident = wait_for_resolved(fleet, "process-down", 30s);
  REQUIRE(incident);
  const auto id = incident->value("id", std::uint64_t{0});
  CHECK(schema.count("incidents") >= 1);
  CHECK(schema.count("audit") >= 5);

  REQUIRE(fleet.stop_coordinator());
  fleet.start_coordinator(fleet.endpoint(), config);
  const auto kinds = timeline_kinds(fleet, id);
  for (const char* step : {"opened", "diagnosed", "command", "verified", "resolved"}) {
    INFO(step);
    CHECK(contains(kinds, step));
  }
  CHECK_FALSE(std::filesystem::exists(fleet.db_path()));
}
