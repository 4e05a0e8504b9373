// SPDX-License-Identifier: Apache-2.0
// Helpers of the brain end-to-end tests: a test service (a uniquely named copy of sleep), an
// agent config watching it with an action that starts it again, and readers of medicctl's
// incident answers.
#pragma once

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/fleet_fixture.hpp"

namespace medic::test::brain {

using medic::test::Fleet;
using nlohmann::json;
namespace fs = std::filesystem;

// The test service: a copy of sleep under a unique name, so only ours is matched.
struct TestService {
  fs::path path;
  std::unique_ptr<medic::test::Process> first;
  TestService(const Fleet& fleet, const std::string& name) {
    path = fleet.dir() / (name + "-" + std::to_string(::getpid()));
    fs::copy_file("/bin/sleep", path);
    first = std::make_unique<medic::test::Process>(std::vector<std::string>{path.string(), "3600"},
                                                   fleet.dir() / (name + ".log"));
  }
  ~TestService() {
    (void)medic::test::run_command({"/usr/bin/pkill", "-KILL", "-f", path.string()});
  }
  // SIGKILL to the instance the test started; true once it is gone within 5 s.
  [[nodiscard]] bool crash() const {
    first->signal(SIGKILL);
    return first->wait_for(std::chrono::seconds(5)).has_value();
  }
  [[nodiscard]] bool running() const {
    return medic::test::run_command({"/usr/bin/pgrep", "-f", path.string()}).status.exited_with(0);
  }
};

// An agent watching `service` as process `svc` (label service=NAME) whose catalog starts it
// again, with the process up as post-condition.
inline std::string agent_config(const TestService& service, const std::string& service_label,
                                const std::string& risk) {
  // Each agent reports its own host name, as on separate machines.
  return "agent:\n  host: " + service.path.filename().string() +
         "-host\n  labels: {service: " + service_label +
         "}\n"
         "processes:\n"
         "  - {name: svc, process_name: " +
         service.path.filename().string() +
         "}\n"
         "sample:\n"
         "  process_discovery_ms: 1000\n"
         "actions:\n"
         "  - name: start-svc\n"
         "    kind: exec\n"
         "    risk: " +
         risk +
         "\n"
         "    timeout: 5s\n"
         "    cooldown: 0s\n"
         "    argv: [/usr/bin/setsid, -f, " +
         service.path.string() +
         ", '3600']\n"
         "    post_condition: {kind: process, target: svc, within: 10s}\n";
}

// One diagnosis rule: process-down is a crashed service, healed by start-svc.
inline std::string write_rules(const Fleet& fleet, const std::string& automation) {
  const fs::path rules = fleet.dir() / "diagnosis.yaml";
  std::ofstream(rules) << "rules:\n"
                          "  - id: svc-crashed\n"
                          "    when: {rule: process-down}\n"
                          "    root_cause: crashed-service\n"
                          "    causes: [the service exited]\n"
                          "    confidence: 0.9\n"
                          "    automation: " +
                              automation +
                              "\n"
                              "    actions:\n"
                              "      - {action: start-svc, success_rate: 0.8}\n";
  return rules.string();
}

inline std::string coordinator_config(const std::string& rules,
                                      const std::string& plan = "{cooldown: 1s}",
                                      const std::string& extra = "") {
  return "diagnosis: {rules_file: " + rules +
         "}\n"
         "correlation: {quiet_period: 1s}\n"
         "plan: " +
         plan + "\n" + extra;
}

inline std::vector<json> incidents(const Fleet& fleet) {
  const auto answer = fleet.ctl("incidents");
  return answer ? answer->value("incidents", std::vector<json>{}) : std::vector<json>{};
}

inline std::optional<json> incident_with_rule(const Fleet& fleet, const std::string& rule,
                                              const std::string& host = "") {
  for (const auto& i : incidents(fleet)) {
    if (i.value("rule", "") == rule && (host.empty() || i.value("host", "") == host)) {
      return i;
    }
  }
  return std::nullopt;
}

// The incident of `rule` once it is resolved, polled every 200 ms; nullopt after `timeout`.
inline std::optional<json> wait_for_resolved(const Fleet& fleet, const std::string& rule,
                                             std::chrono::milliseconds timeout) {
  std::optional<json> incident;
  const bool resolved = medic::test::wait_until(
      [&] {
        incident = incident_with_rule(fleet, rule);
        return incident && incident->value("state", "") == "resolved";
      },
      timeout, std::chrono::milliseconds(200));
  return resolved ? incident : std::nullopt;
}

// The coordinator with `coordinator_config` (tcp://127.0.0.1:*) and agent `id` watching
// `service` (agent_config()), connected, once its process sampler has seen the service up.
inline void start_watching(Fleet& fleet, const TestService& service, const std::string& id,
                           const std::string& service_label, const std::string& risk,
                           const std::string& coordinator_config) {
  fleet.start_coordinator("tcp://127.0.0.1:*", coordinator_config);
  fleet.start_connected_agent(id, agent_config(service, service_label, risk));
  medic::test::sleep_for(std::chrono::milliseconds(1500));
}

// The incidents and their timelines, for failure messages.
inline std::string dump_incidents(const Fleet& fleet) {
  std::string text;
  for (const auto& i : incidents(fleet)) {
    text += i.dump() + "\n";
    const auto id = std::to_string(i.value("id", std::uint64_t{0}));
    text += fleet.ctl_words({"incident", "show", id}).output + "\n";
  }
  return text;
}

inline std::vector<std::string> timeline_kinds(const Fleet& fleet, std::uint64_t id) {
  std::vector<std::string> kinds;
  const auto answer = fleet.ctl_words({"--json", "incident", "show", std::to_string(id)});
  const auto parsed = json::parse(answer.output, nullptr, false);
  if (!parsed.is_discarded()) {
    for (const auto& entry : parsed.value("timeline", json::array())) {
      kinds.push_back(entry.value("kind", ""));
    }
  }
  return kinds;
}

inline bool contains(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

} // namespace medic::test::brain
