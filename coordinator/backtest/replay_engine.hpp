// SPDX-License-Identifier: Apache-2.0
// Inside replay(): the live engine's incident life cycle (engine/engine.cpp,
// engine_recovery.cpp) re-played in simulated time, with a report instead of an audit trail,
// and simulated recoveries instead of COMMANDs. replay_engine.cpp: time, intake and incident
// events; replay_recovery.cpp: planning, simulated dispatch and outcomes. One thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "coordinator/backtest/replay.hpp"
#include "coordinator/correlate/correlator.hpp"
#include "coordinator/engine/fleet_view.hpp"
#include "coordinator/plan/planner.hpp"
#include "coordinator/plan/recovery_flow.hpp"

namespace medic::coordinator::backtest::detail {

class ReplayEngine {
public:
  ReplayEngine(const ReplayInput& input, const engine::EngineConfig& config,
               const diagnose::RuleSet& rules, const ReplayOptions& options);
  ReplayEngine(const ReplayEngine&) = delete;
  ReplayEngine& operator=(const ReplayEngine&) = delete;
  ~ReplayEngine() = default;

  // Plays the whole input, then the time after it up to the end of the period.
  void run();
  [[nodiscard]] ReplayReport report();

private:
  // The recovery's part is plan::RecoveryFlow's, as in the live engine.
  struct Work : plan::RecoveryState {
    bool escalated = false;
    bool in_flight = false;
  };
  // A recovery the replay pretends it sent.
  struct Simulated {
    correlate::IncidentId incident_id = 0;
    plan::Dispatched dispatched;
    bool success = true;
    bool teaches = false;            // a verified outcome (stored) or the assumed success
    std::size_t decision = SIZE_MAX; // index in the incident's decisions, to fill the outcome
    std::string outcome;
  };

  // replay_engine.cpp
  void advance(std::int64_t to_ms);
  [[nodiscard]] bool idle() const;
  void tick(std::int64_t now_ms);
  void on_signal(const storage::SignalRecord& record);
  void on_event(const correlate::IncidentEvent& event, std::int64_t now_ms);
  void on_opened(const correlate::Incident& incident, bool reopening, std::int64_t now_ms);
  void diagnose_incident(const correlate::Incident& incident, std::int64_t now_ms);
  void maybe_escalate(const correlate::Incident& incident, std::int64_t now_ms);
  ReplayIncident* record(const correlate::Incident& incident);

  // replay_recovery.cpp
  void plan_recovery(const correlate::Incident& snapshot, std::int64_t now_ms);
  void decided(const correlate::Incident& incident, const plan::Decision& decision,
               std::int64_t now_ms);
  void dispatch(const correlate::Incident& incident, const plan::Ranked& chosen,
                std::int64_t now_ms);
  void find_outcome(const correlate::Incident& incident, Simulated& recovery,
                    std::int64_t& finish_ms);
  void finish_due(std::int64_t now_ms);
  void finish(Simulated recovery, std::int64_t now_ms);
  void expire_approvals(std::int64_t now_ms);
  void schedule(correlate::IncidentId id, Work& work, std::int64_t at_ms) {
    m_recovery.schedule(id, work, at_ms);
  }
  void replan_due(std::int64_t now_ms);
  [[nodiscard]] plan::PlanContext context_for(const correlate::Incident& incident,
                                              const Work& work);
  void note_decision(const correlate::Incident& incident, ReplayDecision decision);

  const ReplayInput& m_input;
  engine::EngineConfig m_config;
  const diagnose::RuleSet& m_rules;
  ReplayOptions m_options;

  engine::FleetView m_fleet;
  correlate::Correlator m_correlator;
  learn::Learner m_learner;
  plan::Planner m_planner;
  plan::RecoveryFlow m_recovery; // the decisions the live engine makes, and the retry schedule

  std::unordered_map<std::string, const ReplayAgent*> m_agents;
  // agent id -> indexes into m_input.results (oldest first), and which were used already.
  std::unordered_map<std::string, std::vector<std::size_t>> m_results_by_agent;
  std::vector<bool> m_result_used;
  std::vector<protocol::ActionSchema> m_assumed_catalog; // rebuilt for each decision

  std::unordered_map<correlate::IncidentId, Work> m_work;
  std::map<correlate::IncidentId, ReplayIncident> m_records; // the listed ones
  std::multimap<std::int64_t, Simulated> m_finishing;        // by finish time
  std::int64_t m_next_tick_ms = 0;
  std::uint64_t m_ticks = 0;
  std::uint64_t m_records_not_listed = 0;
  ReplayTotals m_totals;
};

} // namespace medic::coordinator::backtest::detail
