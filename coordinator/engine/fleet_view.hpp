// SPDX-License-Identifier: Apache-2.0
// What the engine remembers of each agent between batches, to diagnose and to plan: who it is
// (host, labels, the action catalog from its HELLO), its latest metric values, the log templates
// and log rules seen lately, its recent recoveries and incident openings. Everything is bounded
// per agent and the number of agents is bounded too. Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "coordinator/diagnose/rule_set.hpp"
#include "protocol/message.hpp"

namespace medic::coordinator::engine {

struct AgentView {
  std::string host;
  std::vector<protocol::Label> labels;
  std::vector<protocol::ActionSchema> catalog;
  bool greeted = false; // a HELLO was seen since start (catalog known)
  std::int64_t last_batch_ms = 0;
  // (name, canonical labels) -> latest value: an ordered map keeps diagnose input stable.
  std::map<std::pair<std::string, std::string>, diagnose::MetricValue> metrics;
  std::deque<std::uint32_t> templates;             // newest last
  std::deque<std::string> log_rules;               // newest last
  std::deque<diagnose::RecentRecovery> recoveries; // newest first
  std::deque<std::int64_t> incident_opens;         // times, newest last
  std::deque<protocol::LogEvent> log_lines;        // matched records and gaps, newest last
  std::deque<protocol::Evidence> evidence;         // diagnostics' output, newest last
};

struct FleetLimits {
  std::size_t max_agents = 100'000;
  std::size_t max_metrics = 1024; // per agent: series beyond it are not remembered
  std::size_t max_templates = 128;
  std::size_t max_recoveries = 32;
  std::size_t max_opens = 256;
  std::size_t max_log_lines = 16;
  std::size_t max_evidence = 8;
  std::size_t max_text_bytes = 4096; // of one log line or evidence kept for escalation context
  std::int64_t recent_window_ms = 3'600'000; // "recent" incidents for diagnosis
};

class FleetView {
public:
  explicit FleetView(FleetLimits limits = {}) : m_limits(limits) {}

  // nullptr when the agent is new and the bound is reached (counted in dropped_agents()).
  AgentView* agent(const std::string& agent_id);
  [[nodiscard]] const AgentView* find(const std::string& agent_id) const;

  void hello(const std::string& agent_id, const protocol::Hello& hello);
  // The agent that last said HELLO with this host name ('' when none): how an alert from
  // Alertmanager, which names hosts, finds the agent that can heal them.
  [[nodiscard]] std::string agent_for_host(const std::string& host) const;
  void batch(const std::string& agent_id, const protocol::Batch& batch, std::int64_t now_ms);
  void recovery(const std::string& agent_id, const protocol::CommandResult& result);
  void incident_opened(const std::string& agent_id, std::int64_t now_ms);

  // The diagnosis input for an incident on `agent_id` (empty context when unknown).
  [[nodiscard]] diagnose::DiagnosisInput diagnosis_input(const correlate::Incident& incident,
                                                         std::int64_t now_ms) const;
  // Agent id -> its labels, for the correlator's fleet percentages.
  [[nodiscard]] std::vector<std::pair<std::string, std::vector<protocol::Label>>> agents() const;
  // Agent id -> the action catalog of its HELLO (greeted agents only), for backtests.
  [[nodiscard]] std::unordered_map<std::string, std::vector<protocol::ActionSchema>> catalogs()
      const;
  [[nodiscard]] std::uint64_t dropped_agents() const noexcept { return m_dropped_agents; }

private:
  FleetLimits m_limits;
  std::unordered_map<std::string, AgentView> m_agents;
  std::unordered_map<std::string, std::string> m_by_host; // host -> agent id (latest HELLO)
  std::uint64_t m_dropped_agents = 0;
};

} // namespace medic::coordinator::engine
