// SPDX-License-Identifier: Apache-2.0
// The coordinator's brain, wired: what ingest stores flows in here (HELLOs, batches, RESULTs);
// signals fold into incidents (correlate/), new incidents are diagnosed (diagnose/), recoveries
// are planned within the limits (plan/, learning from learn/), sent to the agent as COMMANDs,
// verified by their RESULT (and its post-condition), learned from, and escalated (escalate/)
// when medic cannot heal. Every step is written to the audit trail. Loop thread only; the store
// is reached through the storage worker (write-behind, about once a second).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "coordinator/correlate/correlator.hpp"
#include "coordinator/diagnose/rule_set.hpp"
#include "coordinator/engine/engine_config.hpp"
#include "coordinator/engine/engine_control.hpp"
#include "coordinator/engine/fleet_view.hpp"
#include "coordinator/engine/write_behind.hpp"
#include "coordinator/escalate/escalator.hpp"
#include "coordinator/input/alert_listener.hpp"
#include "coordinator/learn/learner.hpp"
#include "coordinator/metrics/registry.hpp"
#include "coordinator/plan/planner.hpp"
#include "coordinator/plan/recovery_flow.hpp"
#include "coordinator/server/ingest_listener.hpp"
#include "coordinator/storage/store.hpp"
#include "shared/clock.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::engine {

// The pseudo agent an alert from Alertmanager is attributed to when no agent runs on its host.
inline constexpr std::string_view k_alert_agent_prefix = "alertmanager/";

struct EngineCounters {
  std::uint64_t signals = 0;
  std::uint64_t alerts = 0; // of the signals: from Alertmanager's webhook
  std::uint64_t incidents_opened = 0;
  std::uint64_t diagnoses = 0;
  std::uint64_t needs_review = 0;
  std::uint64_t commands_sent = 0;
  std::uint64_t commands_failed_to_send = 0;
  std::uint64_t dry_run_decisions = 0;
  std::uint64_t recoveries_succeeded = 0;
  std::uint64_t recoveries_failed = 0;
  std::uint64_t recoveries_timed_out = 0;
  std::uint64_t approvals_requested = 0;
  std::uint64_t escalations = 0;
  std::uint64_t store_errors = 0;
};

class Engine final : public server::IngestListener,
                     public input::AlertListener,
                     public EngineControl {
public:
  Engine(uv_loop_t& loop, const Clock& clock, const EngineConfig& config, diagnose::RuleSet rules,
         server::CommandSender& sender, uv::Worker& storage_worker, storage::Store& store);
  ~Engine() override;

  // Before the loop runs, on the thread that owns `store` (the storage worker is idle then):
  // open and recently resolved incidents, the next incident id, and the learned state.
  [[nodiscard]] Result<void> restore();
  void start();
  // Shutdown: stops the timer and the sinks, hands the last writes to the storage worker.
  void close() noexcept;

  // server::IngestListener
  void on_hello(const std::string& agent_id, const protocol::Hello& hello,
                std::int64_t received_ms) noexcept override;
  void on_batch(const std::string& agent_id, const protocol::Batch& batch,
                std::int64_t received_ms) noexcept override;
  // Alerts from Alertmanager's webhook: each becomes a signal of the agent on the alert's host
  // (so medic can heal through it), or of the pseudo agent "alertmanager/<host>" when no agent
  // runs there (diagnosed and escalated, never remediated: no agent answers its COMMANDs).
  void on_alerts(std::vector<escalate::InboundAlert> alerts,
                 std::int64_t received_ms) noexcept override;
  void on_result(const std::string& agent_id, const protocol::CommandResult& result,
                 std::int64_t received_ms) noexcept override;

  // EngineControl (engine_control.cpp)
  [[nodiscard]] std::vector<ApprovalView> approvals() const override;
  [[nodiscard]] Result<std::string> approve(std::uint64_t id, const std::string& actor) override;
  [[nodiscard]] Result<std::string> deny(std::uint64_t id, const std::string& actor) override;
  [[nodiscard]] Result<void> mark_false(correlate::IncidentId id,
                                        const std::string& actor) override;
  [[nodiscard]] Result<std::string> run_manual(const ManualAction& action,
                                               const std::string& actor) override;
  void set_dry_run(bool on, const std::string& actor) override;
  void add_maintenance(maintenance::Window window, const std::string& actor, Done done) override;
  void remove_maintenance(const std::string& id, const std::string& actor, Done done) override;
  void set_freeze(maintenance::Freeze freeze, const std::string& actor, Done done) override;
  [[nodiscard]] nlohmann::json maintenance_state() const override;
  // engine_silences.cpp
  void add_silence(escalate::Silence silence, const std::string& actor, Done done) override;
  void expire_silence(const std::string& id, const std::string& actor, Done done) override;
  void list_silences(bool all, Done done) override;
  [[nodiscard]] nlohmann::json status() const override;

  // A config reload (engine_reload.cpp), loop thread: `next` has passed finish_engine (the
  // service checked the whole config first). Swaps in the rules, correlation (dependency map),
  // plan, learn, escalation and commands.* settings, and plan.dry_run when it changed; what
  // cannot change live is kept (see Correlator/Learner/Planner::reconfigure, and
  // diagnosis.recent_window). The escalation sinks are rebuilt only when `sinks` says so
  // (their queues are dropped: joining them may take up to a second). Audited as `actor`
  // with `summary`.
  enum class Sinks : std::uint8_t { keep, rebuild };
  void reload(EngineConfig next, Sinks sinks, const std::string& actor, const std::string& summary);
  [[nodiscard]] const diagnose::RuleSet& rules() const noexcept { return m_rules; }
  [[nodiscard]] const EngineConfig& config() const noexcept { return m_config; }

  // Loop thread; also driven by the timer. Public for tests that drive time themselves.
  void tick() noexcept;
  [[nodiscard]] const EngineCounters& counters() const noexcept { return m_counters; }
  [[nodiscard]] const FleetView& fleet() const noexcept { return m_fleet; }
  // For /metrics (coordinator/metrics), loop thread: what the collector reads, and the counter
  // of finished recoveries by {action, outcome} (set before start(); may stay null).
  [[nodiscard]] const correlate::Correlator& correlator() const noexcept { return m_correlator; }
  [[nodiscard]] const escalate::Escalator* escalator() const noexcept { return m_escalator.get(); }
  void set_recovery_counter(metrics::CounterFamily* recoveries) noexcept {
    m_recovery_counter = recoveries;
  }

private:
  // What the engine tracks about an open incident beyond the correlator's record.
  // The recovery's part (diagnosis, attempts, tried, holds, approval) is plan::RecoveryFlow's.
  struct Work : plan::RecoveryState {
    bool escalated = false;
    bool auto_recovered = false;
    bool false_positive = false;
    bool escalation_held = false;         // a maintenance window kept it quiet (audited once)
    std::string in_flight;                // command id
    std::deque<protocol::Signal> signals; // the latest ones folded in (bounded)
    std::deque<protocol::CommandResult> results; // recoveries tried, with their output
  };
  // A COMMAND sent and not yet answered.
  struct Recovery {
    correlate::IncidentId incident_id = 0;
    std::string agent_id;
    std::string host;
    std::string target;
    diagnose::Candidate candidate;
    std::string risk;
    std::string diagnosis_key;
    std::string actor;
    std::int64_t sent_ms = 0;
    std::int64_t deadline_ms = 0;
  };

  // engine.cpp: intake and incident life cycle
  void on_signal(const std::string& agent_id, const protocol::Signal& signal, std::int64_t now_ms);
  void on_incident_event(const correlate::IncidentEvent& event, std::int64_t now_ms);
  void diagnose_incident(const correlate::Incident& incident, std::int64_t now_ms);
  void on_resolved(const correlate::Incident& incident, std::int64_t now_ms);
  void maybe_escalate(const correlate::Incident& incident, std::int64_t now_ms);
  void audit(correlate::IncidentId id, std::int64_t now_ms, std::string actor, std::string kind,
             std::string text, nlohmann::json detail = nlohmann::json::object());
  void save(const correlate::Incident& incident);

  // engine_recovery.cpp: planning, dispatch, verification
  // Both return what happened in a sentence (for `medicctl approve`).
  std::string plan_recovery(const correlate::Incident& incident, std::int64_t now_ms);
  std::string dispatch(const correlate::Incident& incident, const plan::Ranked& chosen,
                       const std::string& actor, std::int64_t now_ms);
  [[nodiscard]] Result<std::string> send(const std::string& agent_id,
                                         const diagnose::Candidate& candidate, std::int64_t now_ms);
  void on_command_result(const std::string& agent_id, const protocol::CommandResult& result,
                         std::int64_t now_ms);
  // `learned`: a verified outcome (not a refusal) that the learner and limits count.
  void finish_recovery(const std::string& command_id, bool success, const std::string& why,
                       bool learned, std::int64_t now_ms);
  // Plans `id` again at `at_ms` (0: not at all); replan_held() runs what is due.
  void schedule(correlate::IncidentId id, Work& work, std::int64_t at_ms);
  void replan_held(std::int64_t now_ms);
  void expire_commands(std::int64_t now_ms);
  void expire_approvals(std::int64_t now_ms);
  [[nodiscard]] plan::PlanContext context_for(const correlate::Incident& incident,
                                              const Work& work) const;

  // engine_maintenance.cpp
  // Why this incident must not be remediated now (a window or the freeze); nullopt when free.
  [[nodiscard]] std::optional<std::string> maintenance_hold(const correlate::Incident& incident,
                                                            const Work& work,
                                                            std::int64_t now_ms) const;
  // The window covering the incident now, if any, and escalation is off during it.
  [[nodiscard]] const maintenance::Window* quiet_window(const correlate::Incident& incident,
                                                        const Work& work,
                                                        std::int64_t now_ms) const;
  [[nodiscard]] protocol::Policy policy_for(const std::string& agent_id, std::int64_t now_ms) const;
  void push_policy(const std::string& agent_id, std::int64_t now_ms);
  // Stores the state, then answers and pushes; reverts to `before` if it cannot be stored.
  void store_maintenance(maintenance::Maintenance before, std::string what,
                         const std::string& actor, Done done);
  void maintenance_changed(std::int64_t now_ms);
  [[nodiscard]] Result<void> restore_maintenance();

  // engine_silences.cpp
  // True when an active silence covers the incident: its escalation is held (audited once per
  // silence) and reconsidered when no silence covers it any more.
  [[nodiscard]] bool silence_holds(const correlate::Incident& incident, std::int64_t now_ms);
  // Drops silences that ended; reconsiders the incidents they held.
  void expire_silences(std::int64_t now_ms);
  void silences_changed(std::int64_t now_ms);
  // At start, after the incidents: the silences not yet ended, and the open incidents they hold.
  [[nodiscard]] Result<void> restore_silences();

  // engine_persist.cpp
  void flush(std::int64_t now_ms) noexcept;
  // The learned state and the planner's (approvals, autonomy, cooldowns, day counts).
  void save_learned(std::int64_t now_ms) noexcept;
  // engine_daily.cpp: the daily self-healing figures, from the effectiveness counters' growth
  // since the UTC day began; written with the learned state, and finished when the day ends.
  void update_daily(const learn::EffectivenessState& now_state, std::int64_t now_ms);
  [[nodiscard]] nlohmann::json daily_document() const;
  void restore_daily(const nlohmann::json& document);
  void restore_planner(const plan::PlannerSnapshot& snapshot);
  void drain_escalations(std::int64_t now_ms);
  [[nodiscard]] std::string diagnosis_json(const Work& work) const;

  uv_loop_t& m_loop;
  const Clock& m_clock;
  EngineConfig m_config; // a copy without the rules (m_rules has them): reload() replaces it
  diagnose::RuleSet m_rules;
  server::CommandSender& m_sender;
  uv::Worker& m_storage_worker;
  storage::Store& m_store;

  FleetView m_fleet;
  correlate::Correlator m_correlator;
  learn::Learner m_learner;
  std::string m_daily_day;             // "YYYY-MM-DD" (UTC) the base belongs to; '' before any
  learn::EffectivenessState m_daily_base; // the counters when that day began
  plan::Planner m_planner;
  plan::RecoveryFlow m_recovery{m_planner, m_learner}; // and the retry schedule
  std::unique_ptr<escalate::Escalator> m_escalator;
  WriteBehind m_writes;
  std::unordered_map<correlate::IncidentId, Work> m_work;
  std::unordered_map<std::string, Recovery> m_in_flight; // by command id
  maintenance::Maintenance m_maintenance;
  std::set<correlate::IncidentId> m_maintenance_held; // held or not escalated by maintenance
  std::vector<escalate::Silence> m_silences; // pending and active (bounded: k_max_silences)
  std::map<correlate::IncidentId, std::string> m_silenced; // escalation held -> by this silence
  std::uint64_t m_next_command = 1;
  std::int64_t m_started_ms = 0;
  bool m_dry_run = false;
  bool m_flush_in_flight = false;
  std::int64_t m_last_learned_save_ms = 0;
  std::uint64_t m_ticks = 0;
  uv_timer_t m_timer{};
  bool m_timer_open = false;
  EngineCounters m_counters;
  metrics::CounterFamily* m_recovery_counter = nullptr; // {action, outcome}
};

} // namespace medic::coordinator::engine
