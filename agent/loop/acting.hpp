// SPDX-License-Identifier: Apache-2.0
// The agent's hands. COMMANDs from the coordinator and the fallback healer's decisions both run
// through here: the action must be in the local catalog, its parameters are bound to the
// action's schema, the runner runs it, the post-condition is checked (rollback when it fails),
// and the outcome is audited locally and reported to the coordinator in the next events batch
// (so it goes through the spool: at-least-once). Each action's catalog cooldown holds per
// (action, bound parameters) for both paths (act/cooldown.hpp; saved in the spool across
// restarts): a COMMAND inside it is rejected, a heal rule waits. Also: diagnostic hooks that
// attach evidence to a firing signal, and temporary actions undone after their time. Loop
// thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/act/catalog.hpp"
#include "agent/act/cooldown.hpp"
#include "agent/act/runner.hpp"
#include "agent/config/acting_config.hpp"
#include "agent/heal/fallback_healer.hpp"
#include "agent/link/spool.hpp"
#include "agent/loop/command_ledger.hpp"
#include "agent/loop/health_board.hpp"
#include "protocol/message.hpp"
#include "shared/clock.hpp"

namespace medic::agent::loop {

struct ActingSettings {
  act::RunnerSettings runner;
  heal::HealConfig heal;
  std::vector<config::DiagnosticHook> diagnostics;
  std::uint64_t seed = 0; // backoff jitter
};

struct ActingHooks {
  std::function<void(protocol::CommandResult)> report; // into the events batch
  std::function<void(protocol::BudgetReport)> budget;  // ditto
  std::function<void(protocol::Evidence)> evidence;    // ditto
  std::function<void(link::SpoolWrite)> persist;       // ordered write to the spool database
};

// What the agent's spool remembered from its last run (read before the loop starts).
struct ActingState {
  std::vector<LedgerEntry> commands;
  std::vector<heal::BudgetEntry> budget;
  std::vector<act::CooldownEntry> cooldowns; // still running when read
  std::optional<protocol::Policy> policy;    // the coordinator's last POLICY, if one was saved
};

class Acting {
public:
  Acting(uv_loop_t& loop, const Clock& clock, const act::Catalog& catalog, ActingSettings settings,
         ActingHooks hooks, ActingState state);
  Acting(const Acting&) = delete;
  Acting& operator=(const Acting&) = delete;
  ~Acting();

  [[nodiscard]] Result<void> start();
  void on_command(const protocol::Command& command);
  // The coordinator's freeze and maintenance windows: kept (and saved in the spool) when newer
  // than the policy held; fallback healing honours them from then on. COMMANDs do not.
  void on_policy(const protocol::Policy& policy);
  [[nodiscard]] const heal::Maintenance& maintenance() const noexcept {
    return m_healer.maintenance();
  }
  void on_signal(const protocol::SignalView& signal);
  void observe(std::string_view name, double value, std::int64_t time_ms,
               std::span<const protocol::LabelView> labels) noexcept {
    m_health.observe(name, value, time_ms, labels);
  }
  // Every second or so: fallback retries, link state changes.
  void tick(bool coordinator_alive);
  void close() noexcept;

  // Reads the commands ledger, the saved budget, cooldowns and policy (before the loop starts).
  [[nodiscard]] static Result<ActingState> load_state(sqlite::Database& db, std::int64_t now_ms);

  [[nodiscard]] std::size_t running() const noexcept { return m_runner.running(); }

private:
  struct Job {
    std::uint64_t id = 0;
    std::string origin; // "coordinator" or "local"
    std::string command_id;
    std::string rule;
    std::string target;
    const act::Action* action = nullptr;
    act::BoundParams params;
    protocol::CommandResult result;
    std::int64_t check_until_ms = 0; // waiting for the post-condition until then
    bool temporary_undo = false;
  };

  void start_job(std::unique_ptr<Job> job);
  void on_run_done(std::uint64_t id, const act::RunOutcome& outcome);
  void check_post_conditions();
  void start_rollback(std::unique_ptr<Job> job);
  void finish_job(std::unique_ptr<Job> job);
  void report(protocol::CommandResult result);
  void reject_command(const protocol::Command& command, protocol::ResultStatus status,
                      std::string reason);
  // The action's cooldown for these parameters ends then (0: it may run now).
  [[nodiscard]] std::int64_t cooldown_until(const std::string& action,
                                            const std::vector<protocol::Label>& params,
                                            std::int64_t now_ms) const;

  // acting_local.cpp
  void run_decisions(std::vector<heal::HealDecision> decisions);
  void run_decision(heal::HealDecision decision);
  void run_diagnostics(const protocol::Signal& signal);
  void schedule_undo(const Job& job);
  void run_due_undos();
  void report_budget(const std::string& target, const std::string& action);
  [[nodiscard]] heal::LinkState link_state() const noexcept;

  uv_loop_t& m_loop;
  const Clock& m_clock;
  const act::Catalog& m_catalog;
  ActingSettings m_settings;
  ActingHooks m_hooks;
  act::ActionRunner m_runner;
  heal::FallbackHealer m_healer;
  CommandLedger m_ledger;
  HealthBoard m_health;
  act::Cooldowns m_cooldowns; // per (action, bound parameters), for COMMANDs and local runs
  std::map<std::uint64_t, std::unique_ptr<Job>> m_running;
  std::vector<std::unique_ptr<Job>> m_checking;
  struct Undo {
    std::int64_t due_ms = 0;
    std::unique_ptr<Job> job;
  };
  std::vector<Undo> m_undos;
  std::map<std::string, std::pair<std::uint32_t, std::int64_t>> m_repeats; // temporary: count, last
  uv_timer_t m_check_timer{};
  std::uint64_t m_next_job = 1;
  bool m_connected = false;
  std::int64_t m_disconnected_since_ms = 0;
  bool m_closed = false;
};

} // namespace medic::agent::loop
