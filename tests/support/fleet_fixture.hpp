// SPDX-License-Identifier: Apache-2.0
// A coordinator (and optionally agents) running as real processes in a temporary directory,
// on a loopback port the coordinator picks itself (tcp://127.0.0.1:*): the fixture of the
// end-to-end tests. The binaries' paths come from the medic_test_fleet target's definitions.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/build_info.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace medic::test {

inline constexpr const char* k_agent_bin = MEDIC_AGENT_BIN;
inline constexpr const char* k_coordinator_bin = MEDIC_COORDINATOR_BIN;
inline constexpr const char* k_medicctl_bin = MEDICCTL_BIN;

class Fleet {
public:
  Fleet();

  // Starts the coordinator and waits until its admin socket answers; returns its agent endpoint.
  // Pass the endpoint of a previous run to restart on the same port.
  std::string start_coordinator(const std::string& listen = "tcp://127.0.0.1:*",
                                const std::string& extra_config = "");
  // Writes an agent's config; its key pair, spool and log live in the fleet's directory.
  std::filesystem::path write_agent_config(const std::string& id, const std::string& extra = "");
  // Creates the agent's key pair and enrols its public key with the coordinator.
  void enrol(const std::string& id);
  // Starts an agent reporting every 200 ms; enrols it first unless told not to.
  Process& start_agent(const std::string& id, bool enrol_first = true,
                       const std::string& extra_config = "");
  // Starts an agent (enrolled first) and waits until the coordinator lists it; throws with the
  // logs when it is not listed within `timeout`.
  Process& start_connected_agent(const std::string& id, const std::string& extra_config = "",
                                 std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // SIGTERM to the coordinator; true once it exited within `timeout`.
  [[nodiscard]] bool stop_coordinator(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // medicctl --socket <ours> --json <command>; nullopt when medicctl failed.
  [[nodiscard]] std::optional<nlohmann::json> ctl(const std::string& command) const;
  // medicctl with several words, e.g. {"keys", "revoke", "web-1"}.
  [[nodiscard]] CommandResult ctl_words(const std::vector<std::string>& words) const;
  // medicctl --json with several words; nullopt when medicctl failed or printed no JSON.
  [[nodiscard]] std::optional<nlohmann::json> ctl_json(std::vector<std::string> words) const;
  // The agent with this id from `medicctl agents --json`, if listed.
  [[nodiscard]] std::optional<nlohmann::json> agent(const std::string& id) const;

  [[nodiscard]] Process& coordinator() { return *m_coordinator; }
  [[nodiscard]] const TempDir& dir() const { return m_dir; }
  [[nodiscard]] std::string socket_path() const { return (m_dir / "admin.sock").string(); }
  [[nodiscard]] std::string db_path() const { return (m_dir / "medic.db").string(); }
  [[nodiscard]] const std::string& endpoint() const { return m_endpoint; }
  [[nodiscard]] std::string coordinator_public_key_file() const {
    return (m_dir / "coordinator.key.pub").string();
  }
  // Everything the processes logged, for failure messages.
  [[nodiscard]] std::string logs() const;

  // The coordinator.* liveness keys of the agents' configs written from now on (fast, so that
  // tests notice a lost coordinator quickly; a test of liveness sets its own).
  std::string agent_liveness = "  heartbeat_interval: 200ms\n  dead_after: 1s\n";

private:
  TempDir m_dir;
  std::unique_ptr<Process> m_coordinator;
  std::vector<std::unique_ptr<Process>> m_agents;
  std::string m_endpoint;
};

} // namespace medic::test
