// SPDX-License-Identifier: Apache-2.0
// The configs the package ships must load cleanly and say exactly what the built-in defaults
// are, so an operator reading them learns the truth.
#include <catch2/catch.hpp>

#include "agent/config/agent_config.hpp"
#include "coordinator/config/coordinator_config.hpp"

namespace {

const std::string k_config_dir = std::string(MEDIC_FIXTURES_DIR) + "/../../packaging/config";

} // namespace

TEST_CASE("the shipped agent.yaml loads and matches the built-in defaults") {
  medic::agent::config::AgentConfig shipped;
  auto schema = medic::agent::config::make_schema(shipped);
  auto loaded = schema.load_file(k_config_dir + "/agent.yaml");
  INFO((loaded ? std::string() : loaded.error().message()));
  REQUIRE(loaded);
  const medic::agent::config::AgentConfig defaults;
  CHECK(shipped.coordinator_endpoint == defaults.coordinator_endpoint);
  CHECK(shipped.send_queue == defaults.send_queue);
  CHECK(shipped.interval == defaults.interval);
  CHECK(shipped.proc_root == defaults.proc_root);
  CHECK(shipped.flush_interval == defaults.flush_interval);
  CHECK(shipped.max_batch == defaults.max_batch);
  CHECK(shipped.log_level == defaults.log_level);
  CHECK(shipped.id.empty());
  CHECK(shipped.labels.empty());
  // Unlike the built-in default: an installed agent follows the kernel's log, where the built-in
  // OOM-killer, segfault and I/O error rules find their lines on a journal-only host.
  CHECK(shipped.sensing.kernel_log);
  CHECK_FALSE(defaults.sensing.kernel_log);
}

TEST_CASE("the shipped coordinator.yaml loads and matches the built-in defaults") {
  medic::coordinator::config::CoordinatorConfig shipped;
  auto schema = medic::coordinator::config::make_schema(shipped);
  auto loaded = schema.load_file(k_config_dir + "/coordinator.yaml");
  INFO((loaded ? std::string() : loaded.error().message()));
  REQUIRE(loaded);
  const medic::coordinator::config::CoordinatorConfig defaults;
  CHECK(shipped.listen == defaults.listen);
  CHECK(shipped.receive_queue == defaults.receive_queue);
  CHECK(shipped.storage == defaults.storage);
  CHECK(shipped.storage_queue == defaults.storage_queue);
  CHECK(shipped.admin_socket == defaults.admin_socket);
  CHECK(shipped.admin_group == defaults.admin_group);
  CHECK(shipped.log_level == defaults.log_level);
  REQUIRE(medic::coordinator::config::finish(shipped));
  CHECK(shipped.sqlite_path == "/var/lib/medic/medic.db");
}

TEST_CASE("the coordinator refuses a storage URL it cannot serve, with the way out") {
  medic::coordinator::config::CoordinatorConfig config;
  auto schema = medic::coordinator::config::make_schema(config);
  REQUIRE(schema.load_override("storage.url=postgresql://db/medic"));
  auto mysql = schema.load_override("storage.url=mysql://db");
  REQUIRE_FALSE(mysql);
  CHECK(mysql.error().message().find("postgresql://") != std::string::npos);
  CHECK(mysql.error().message().find("sqlite:") != std::string::npos);
  CHECK_FALSE(schema.load_override("admin.socket=" + std::string(200, 'x')));
}
