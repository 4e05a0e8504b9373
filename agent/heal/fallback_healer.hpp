// SPDX-License-Identifier: Apache-2.0
// The fallback healing engine: turns the detectors' signals and the link's state into decisions
// (run this action on this target, or why not). A heal rule applies to a signal whose rule is
// its on_rule and whose labels include every `match` pair; it acts when the coordinator has
// been unreachable for at least fallback_after, or at any time when the rule says `always`.
// Every attempt is held to the HealBudget, and none starts while the coordinator's POLICY (a
// freeze or a maintenance window, maintenance.hpp) holds it back. Pure logic: no I/O, no clock
// (time comes in as Unix ms); the caller runs the decisions (act/runner.hpp), audits them
// (audit_log.hpp) and reports each run's end through on_action_done(). Not thread-safe: the loop
// thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agent/heal/heal_budget.hpp"
#include "agent/heal/heal_config.hpp"
#include "agent/heal/maintenance.hpp"
#include "protocol/message.hpp"

namespace medic::agent::heal {

struct LinkState {
  bool connected = false;
  std::int64_t disconnected_since_ms = 0; // when !connected: since when (agent start if never)
};

struct HealDecision {
  enum class Kind : std::uint8_t {
    run,          // run `action` with `params` now; call on_action_done when it ends
    needs_person, // the budget is spent: the agent stopped acting on this target
    flapping,     // the target fires and clears too often: no action
    skipped,      // not run: cooling down, or a parameter could not be filled in (see reason)
    held,         // not run: the fleet freeze or a maintenance window (reason names which)
  };
  Kind kind = Kind::run;
  std::string rule_id;     // the heal rule
  std::string signal_rule; // the detector rule that fired
  std::string action;
  std::string target;                  // the signal's fingerprint
  std::vector<protocol::Label> params; // with {label:NAME} filled in; not yet bound to the schema
  std::string reason;                  // for people
  // run: this attempt's number since the target was last proven healthy; else attempts so far
  std::uint32_t attempt = 0;
  std::int64_t retry_at_ms = 0; // skipped while cooling down: when the backoff ends
  bool dry_run = false;         // heal.dry_run: decide and record, do not execute
};
[[nodiscard]] std::string_view to_string(HealDecision::Kind kind) noexcept;

// The catalog action's own cooldown (act/cooldown.hpp), shared with the coordinator's
// COMMANDs: when a run of `action` with these (filled-in) parameters may start, or 0 if now.
using CooldownGate = std::function<std::int64_t(
    const std::string& action, const std::vector<protocol::Label>& params, std::int64_t now_ms)>;

class FallbackHealer {
public:
  // `seed` drives the backoff jitter; `max_targets` bounds the firing signals followed and the
  // budget's keys (past it the idlest cleared target is forgotten).
  FallbackHealer(HealConfig config, std::uint64_t seed, std::size_t max_targets = 1024);

  // Consulted before every attempt: a rule waits for max(backoff, the action's cooldown). The
  // wait is put into the budget, so ticks meanwhile cost nothing.
  void set_cooldown_gate(CooldownGate gate) { m_cooldown_gate = std::move(gate); }

  // A signal fired or cleared. Returns what to do about it now (often nothing). A signal no
  // heal rule applies to is ignored and costs nothing.
  [[nodiscard]] std::vector<HealDecision> on_signal(const protocol::Signal& signal, LinkState link,
                                                    std::int64_t now_ms);
  // Call periodically (e.g. every second): re-considers targets still firing, so a target that
  // stays down is retried when its backoff ends, and one that fired before the link went down is
  // acted on once fallback_after has passed. Refusals are reported once per change, not per tick.
  [[nodiscard]] std::vector<HealDecision> tick(LinkState link, std::int64_t now_ms);
  // A `run` decision ended. Never resets the budget (`succeeded` is not evidence of health:
  // only the signal staying cleared for healthy_for is); the next backoff counts from now.
  // Must be called exactly once per run decision, also when the run could not start.
  void on_action_done(const std::string& target, const std::string& action, bool succeeded,
                      std::int64_t now_ms);
  // The coordinator is back: targets needing a person or flapping may be acted on again after
  // a later disconnection (their audit has reached the coordinator by then).
  void reconnected();

  // The coordinator's freeze and maintenance windows, consulted before every attempt. A held
  // attempt costs neither budget nor cooldown and is reported once per change of hold.
  [[nodiscard]] Maintenance& maintenance() noexcept { return m_maintenance; }
  [[nodiscard]] const Maintenance& maintenance() const noexcept { return m_maintenance; }
  [[nodiscard]] HealBudget& budget() noexcept { return m_budget; }
  [[nodiscard]] const HealConfig& config() const noexcept { return m_config; }
  [[nodiscard]] std::size_t tracked() const noexcept { return m_tracked.size(); }

private:
  enum class Reported : std::uint8_t {
    none,
    ran,
    cooling_down,
    exhausted,
    flapping,
    skipped,
    held
  };
  struct Slot {
    std::size_t rule = 0; // index into m_config.rules
    Reported reported = Reported::none;
    // When reported == held: the hold reported (a change of hold is news again).
    MaintenanceHold::Kind held_kind = MaintenanceHold::Kind::none;
    std::string held_window;
  };
  struct Tracked {
    std::string signal_rule;
    std::vector<protocol::Label> labels;
    bool firing = false;
    std::int64_t last_event_ms = 0;
    std::vector<Slot> slots; // the heal rules that apply to this signal
  };
  using TrackedMap = std::map<std::string, Tracked, std::less<>>;
  enum class Trigger : std::uint8_t { signal, tick };

  [[nodiscard]] bool applies(const HealRule& rule, const protocol::Signal& signal) const;
  [[nodiscard]] bool acting(const HealRule& rule, LinkState link, std::int64_t now_ms) const;
  Tracked* track(const protocol::Signal& signal, const std::string& target, std::int64_t now_ms);
  void consider(const std::string& target, Tracked& tracked, LinkState link, std::int64_t now_ms,
                Trigger trigger, std::vector<HealDecision>& out);
  void consider_slot(const std::string& target, Tracked& tracked, Slot& slot, LinkState link,
                     std::int64_t now_ms, Trigger trigger, std::vector<HealDecision>& out);
  // True (and the refusal reported when it is news) when the action's cooldown holds `run` back.
  bool held_by_cooldown(const HealDecision& run, Slot& slot, Trigger trigger, std::int64_t now_ms,
                        std::vector<HealDecision>& out);
  // True (and the hold reported when it is news) when the POLICY holds `run` back.
  bool held_by_policy(const HealDecision& run, const Tracked& tracked, Slot& slot,
                      std::int64_t now_ms, std::vector<HealDecision>& out);
  [[nodiscard]] HealDecision refusal(const std::string& target, const Tracked& tracked,
                                     const HealRule& rule, const Verdict& verdict,
                                     std::int64_t now_ms) const;
  [[nodiscard]] HealDecision decision(HealDecision::Kind kind, const std::string& target,
                                      const Tracked& tracked, const HealRule& rule) const;
  void evict_one();

  HealConfig m_config;
  HealBudget m_budget;
  std::size_t m_max_targets;
  TrackedMap m_tracked;
  CooldownGate m_cooldown_gate;
  Maintenance m_maintenance;
};

} // namespace medic::agent::heal
