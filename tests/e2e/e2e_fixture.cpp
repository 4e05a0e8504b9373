// SPDX-License-Identifier: Apache-2.0
#include "tests/e2e/e2e_fixture.hpp"

#include <stdexcept>

namespace medic::test {

using namespace std::chrono_literals;

Fleet::Fleet() = default;

std::string Fleet::start_coordinator() {
  write_file(m_dir / "coordinator.yaml",
             "agents:\n"
             "  listen: tcp://127.0.0.1:*\n"
             "storage:\n"
             "  url: sqlite://" +
                 db_path() +
                 "\n"
                 "admin:\n"
                 "  socket: " +
                 socket_path() +
                 "\n"
                 "log:\n"
                 "  level: debug\n");
  m_coordinator =
      std::make_unique<Process>(std::vector<std::string>{k_coordinator_bin, "--config",
                                                         (m_dir / "coordinator.yaml").string()},
                                m_dir / "coordinator.log");
  std::optional<nlohmann::json> status;
  const bool up = wait_until([&] { return (status = ctl("status")).has_value(); }, 10s, 50ms);
  if (!up) {
    throw std::runtime_error("the coordinator did not answer within 10 s:\n" + logs());
  }
  m_endpoint = status->value("listen", "");
  return m_endpoint;
}

Process& Fleet::start_agent(const std::string& id) {
  const auto config = m_dir / (id + ".yaml");
  write_file(config,
             "agent:\n"
             "  id: " +
                 id +
                 "\n"
                 "  labels: {role: e2e}\n"
                 "coordinator:\n"
                 "  endpoint: " +
                 m_endpoint +
                 "\n"
                 "sample:\n"
                 "  interval: 200ms\n"
                 "batch:\n"
                 "  flush_interval: 200ms\n"
                 "log:\n"
                 "  level: debug\n");
  m_agents.push_back(std::make_unique<Process>(
      std::vector<std::string>{k_agent_bin, "--config", config.string()}, m_dir / (id + ".log")));
  return *m_agents.back();
}

std::optional<nlohmann::json> Fleet::ctl(const std::string& command) const {
  const auto result = run_command({k_medicctl_bin, "--socket", socket_path(), "--json", command});
  if (!result.status.exited_with(0)) {
    return std::nullopt;
  }
  auto parsed = nlohmann::json::parse(result.output, nullptr, false);
  if (parsed.is_discarded()) {
    return std::nullopt;
  }
  return parsed;
}

std::optional<nlohmann::json> Fleet::agent(const std::string& id) const {
  const auto answer = ctl("agents");
  if (!answer) {
    return std::nullopt;
  }
  for (const auto& agent : answer->value("agents", nlohmann::json::array())) {
    if (agent.value("id", "") == id) {
      return agent;
    }
  }
  return std::nullopt;
}

std::string Fleet::logs() const {
  std::string text;
  for (const auto& entry : std::filesystem::directory_iterator(m_dir.path())) {
    if (entry.path().extension() == ".log") {
      text += "--- " + entry.path().filename().string() + "\n" + read_file(entry.path());
    }
  }
  return text;
}

} // namespace medic::test
