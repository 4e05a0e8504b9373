// SPDX-License-Identifier: Apache-2.0
// What operators may ask of the engine through the admin socket: approvals, false-positive
// marks, dry-run, manual actions. Every call is audited with its actor ("operator:uid=N").
// Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/correlate/incident.hpp"
#include "coordinator/escalate/silence.hpp"
#include "coordinator/maintenance/maintenance.hpp"
#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::engine {

struct ApprovalView {
  std::uint64_t id = 0;
  correlate::IncidentId incident_id = 0;
  std::string agent_id;
  std::string host;
  std::string action;
  std::vector<protocol::Label> params;
  std::string risk;
  std::string reason; // why it waits: the rule's automation, the risk, the blast-radius guard
  std::int64_t requested_ms = 0;
  std::int64_t expires_ms = 0;
};

struct ManualAction {
  std::string host_or_agent;
  std::string action;
  std::vector<protocol::Label> params;
  correlate::IncidentId incident_id = 0; // 0: not about an incident
};

class EngineControl {
public:
  EngineControl() = default;
  EngineControl(const EngineControl&) = delete;
  EngineControl& operator=(const EngineControl&) = delete;
  virtual ~EngineControl() = default;

  [[nodiscard]] virtual std::vector<ApprovalView> approvals() const = 0;
  // What happened, in a sentence ("sent restart-service to web-1 (command c-12)").
  [[nodiscard]] virtual Result<std::string> approve(std::uint64_t id, const std::string& actor) = 0;
  [[nodiscard]] virtual Result<std::string> deny(std::uint64_t id, const std::string& actor) = 0;
  [[nodiscard]] virtual Result<void> mark_false(correlate::IncidentId id,
                                                const std::string& actor) = 0;
  [[nodiscard]] virtual Result<std::string> run_manual(const ManualAction& action,
                                                       const std::string& actor) = 0;
  virtual void set_dry_run(bool on, const std::string& actor) = 0;
  // Maintenance windows and the freeze are written through: `done` gets the new state (or why
  // not) only once the store has it, and then every connected agent is sent its POLICY.
  using Done = std::function<void(Result<nlohmann::json>)>;
  virtual void add_maintenance(maintenance::Window window, const std::string& actor, Done done) = 0;
  virtual void remove_maintenance(const std::string& id, const std::string& actor, Done done) = 0;
  virtual void set_freeze(maintenance::Freeze freeze, const std::string& actor, Done done) = 0;
  [[nodiscard]] virtual nlohmann::json maintenance_state() const = 0;
  // Silences (engine_silences.cpp, docs/silences.md), written through like maintenance: `done`
  // gets the silence's JSON (or why not) once the store has committed the change. `silence`
  // arrives with its matchers, times and comment; the engine gives it its id and actor.
  virtual void add_silence(escalate::Silence silence, const std::string& actor, Done done) = 0;
  virtual void expire_silence(const std::string& id, const std::string& actor, Done done) = 0;
  // {"silences": [...]}: pending and active ones, or (all) every one stored, newest first.
  virtual void list_silences(bool all, Done done) = 0;
  // Counters and state for `medicctl status` and `stats`.
  [[nodiscard]] virtual nlohmann::json status() const = 0;
};

} // namespace medic::coordinator::engine
