// SPDX-License-Identifier: Apache-2.0
#include "tests/support/fleet_fixture.hpp"

#include <signal.h>

#include <stdexcept>

namespace medic::test {

using namespace std::chrono_literals;

Fleet::Fleet() = default;

std::string Fleet::start_coordinator(const std::string& listen, const std::string& extra_config) {
  // clang-format off
  write_file(m_dir / "coordinator.yaml",
             "agents:\n"
             "  listen: " + listen + "\n"
             "storage:\n"
             "  url: sqlite://" + db_path() + "\n"
             "admin:\n"
             "  socket: " + socket_path() + "\n"
             "security:\n"
             "  key_file: " + (m_dir / "coordinator.key").string() + "\n"
             "log:\n"
             "  level: debug\n" + extra_config);
  // clang-format on
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

std::filesystem::path Fleet::write_agent_config(const std::string& id, const std::string& extra) {
  const auto config = m_dir / (id + ".yaml");
  // clang-format off
  write_file(config, "agent:\n"
                     "  id: " + id + "\n"
                     "  labels: {role: e2e}\n"
                     "coordinator:\n"
                     "  endpoint: " + m_endpoint + "\n"
                     "  public_key: " + coordinator_public_key_file() + "\n"
                     + agent_liveness +
                     "  ack_timeout: 2s\n"
                     "security:\n"
                     "  key_file: " + (m_dir / (id + ".key")).string() + "\n"
                     "spool:\n"
                     "  path: " + (m_dir / (id + "-spool.db")).string() + "\n"
                     "sample:\n"
                     "  interval: 200ms\n"
                     "batch:\n"
                     "  flush_interval: 200ms\n"
                     "log:\n"
                     "  level: debug\n" + extra);
  // clang-format on
  return config;
}

void Fleet::enrol(const std::string& id) {
  const auto config = m_dir / (id + ".yaml");
  const auto key = run_command({k_agent_bin, "--config", config.string(), "--print-public-key"});
  if (!key.status.exited_with(0)) {
    throw std::runtime_error("medic-agent --print-public-key failed: " + key.errors);
  }
  const auto added = ctl_words({"keys", "add", id, key.output.substr(0, key.output.find('\n'))});
  if (!added.status.exited_with(0)) {
    throw std::runtime_error("medicctl keys add failed: " + added.errors);
  }
}

Process& Fleet::start_agent(const std::string& id, bool enrol_first,
                            const std::string& extra_config) {
  const auto config = write_agent_config(id, extra_config);
  if (enrol_first) {
    enrol(id);
  }
  m_agents.push_back(std::make_unique<Process>(
      std::vector<std::string>{k_agent_bin, "--config", config.string()}, m_dir / (id + ".log")));
  return *m_agents.back();
}

Process& Fleet::start_connected_agent(const std::string& id, const std::string& extra_config,
                                      std::chrono::milliseconds timeout) {
  Process& process = start_agent(id, true, extra_config);
  if (!wait_until([&] { return agent(id).has_value(); }, timeout)) {
    throw std::runtime_error("agent " + id + " was not listed by the coordinator within " +
                             std::to_string(timeout.count()) + " ms:\n" + logs());
  }
  return process;
}

bool Fleet::stop_coordinator(std::chrono::milliseconds timeout) {
  m_coordinator->signal(SIGTERM);
  return m_coordinator->wait_for(timeout).has_value();
}

CommandResult Fleet::ctl_words(const std::vector<std::string>& words) const {
  std::vector<std::string> argv{k_medicctl_bin, "--socket", socket_path()};
  argv.insert(argv.end(), words.begin(), words.end());
  return run_command(argv);
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

std::optional<nlohmann::json> Fleet::ctl_json(std::vector<std::string> words) const {
  words.insert(words.begin(), "--json");
  const auto result = ctl_words(words);
  auto parsed = nlohmann::json::parse(result.output, nullptr, false);
  if (!result.status.exited_with(0) || parsed.is_discarded()) {
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
