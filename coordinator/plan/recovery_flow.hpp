// SPDX-License-Identifier: Apache-2.0
// RecoveryFlow: the decisions of an incident's recovery that the live engine
// (engine/engine_recovery.cpp) and the backtest replay (backtest/replay_recovery.cpp) share:
// plan → dispatch → verify → learn → the next candidate or escalation. It drives the Planner
// and the Learner and keeps the retry schedule; the callers carry out what it decides (the
// engine sends COMMANDs and audits, the replay simulates outcomes and reports), so both make
// the same decisions and learn the same statistics. Pure: no I/O, time passed in; the thread
// that owns the planner calls it.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/correlate/correlator.hpp"
#include "coordinator/diagnose/diagnosis.hpp"
#include "coordinator/learn/learner.hpp"
#include "coordinator/plan/planner.hpp"
#include "protocol/message.hpp"

namespace medic::coordinator::plan {

// How long a hold with no known end waits before the incident is planned again.
inline constexpr std::int64_t k_held_retry_ms = 5000;

// The part of an incident's work the flow reads and writes; the engine's and the replay's
// Work extend it with what only they keep (a command id, signals, results...).
struct RecoveryState {
  std::optional<diagnose::Diagnosis> diagnosis;
  std::uint32_t attempts = 0;
  std::uint32_t failed = 0;
  std::vector<std::string> tried;
  bool gave_up = false; // the planner or the agent said a person must look
  bool approval_timed_out = false;
  std::int64_t retry_at_ms = 0;  // held: plan again at this time (0: not scheduled)
  std::uint64_t approval_id = 0; // waiting for this approval
  std::string last_decision;     // the last verdict recorded (holds are re-checked quietly)
};

// What a RESULT (or a stored one, in a replay) says about a recovery.
struct Verification {
  bool success = false; // succeeded, and its post-condition did not fail
  bool teaches = false; // a verified outcome; a refusal or a dry run teaches nothing
};
[[nodiscard]] Verification verify(protocol::ResultStatus status,
                                  std::string_view post_check) noexcept;

// Whether plan_recovery goes on to a decision.
enum class Opening : std::uint8_t {
  not_now,          // not diagnosed, a recovery in flight, or not open
  flapping_gave_up, // flapping, first time: record the hold and escalate
  flapping,         // flapping, already given up: nothing more
  plan,             // go on: the caller's own holds, then decide()
};

// What the caller carries out after decide().
enum class NextStep : std::uint8_t {
  dispatch,           // run decision.chosen (RecoveryFlow::started once it is sent)
  approval_requested, // a new approval was filed: say so
  approval_pending,   // the same approval is still waited on
  approval_failed,    // no approval could be filed (approval_error); retried later
  held,               // scheduled again (or when an event frees it)
  escalate,           // gave up: a person must look
  none,               // record_only or nothing_to_do
};

struct Planned {
  Decision decision;
  std::string said;        // "<verdict>: <reason>"
  bool newly_said = false; // differs from the last decision recorded: record (audit) it
  NextStep next = NextStep::none;
  std::optional<Approval> approval; // approval_requested, approval_pending
  std::string approval_error;       // approval_failed
};

// A recovery on its way: what its outcome is learned with.
struct Dispatched {
  RecoveryKey key;
  diagnose::Candidate candidate;
  std::string risk;
  std::string diagnosis_key; // '' teaches the learner nothing (a manual run)
  std::int64_t sent_ms = 0;
};

class RecoveryFlow {
public:
  // Both must outlive the flow.
  RecoveryFlow(Planner& planner, learn::Learner& learner);

  // The facts the flow knows; the caller adds the catalog and whether the agent is connected.
  [[nodiscard]] static PlanContext context(const correlate::Incident& incident,
                                           const RecoveryState& state,
                                           const correlate::Correlator& correlator);

  // The first steps of planning: unschedules the incident and stops a flapping one.
  [[nodiscard]] Opening open(const correlate::Incident& incident, RecoveryState& state,
                             bool in_flight);
  // Asks the planner, records the decision in `state`, files the approval, schedules a hold.
  [[nodiscard]] Planned decide(const PlanContext& context, RecoveryState& state,
                               std::int64_t now_ms);
  // The chosen recovery was sent (or simulated): counts the attempt, tells the planner.
  [[nodiscard]] Dispatched started(const correlate::Incident& incident, RecoveryState& state,
                                   const Ranked& chosen, std::int64_t now_ms);
  // Its outcome: the planner's limits and cooldowns, the learner when `teaches`, the failures.
  // Returns the autonomy changes the outcome brought (for the audit).
  [[nodiscard]] std::vector<AutonomyChange> finished(RecoveryState& state,
                                                     const Dispatched& recovery, bool success,
                                                     bool teaches, std::int64_t now_ms);
  // An approval nobody gave in time (from Planner::expired): the caller escalates.
  static void approval_expired(RecoveryState& state) noexcept;

  // Plans `id` again at `at_ms` (0: not at all), replacing its previous time.
  void schedule(correlate::IncidentId id, RecoveryState& state, std::int64_t at_ms);
  // The incidents due at `now_ms`, taken off the schedule (their retry time cleared in
  // `work`: a map of incident id to RecoveryState or a type derived from it), earliest first.
  template <typename WorkMap>
  [[nodiscard]] std::vector<correlate::IncidentId> take_due(std::int64_t now_ms, WorkMap& work);
  [[nodiscard]] std::optional<std::int64_t> next_due_ms() const;
  [[nodiscard]] bool nothing_due() const noexcept { return m_due.empty(); }

private:
  Planner& m_planner;
  learn::Learner& m_learner;
  std::set<std::pair<std::int64_t, correlate::IncidentId>> m_due; // (retry_at_ms, incident)
};

template <typename WorkMap>
std::vector<correlate::IncidentId> RecoveryFlow::take_due(std::int64_t now_ms, WorkMap& work) {
  // Only what is due: the cost does not grow with the number of open incidents.
  std::vector<correlate::IncidentId> due;
  while (!m_due.empty() && m_due.begin()->first <= now_ms) {
    due.push_back(m_due.begin()->second);
    m_due.erase(m_due.begin());
  }
  for (const correlate::IncidentId id : due) {
    if (const auto it = work.find(id); it != work.end()) {
      static_cast<RecoveryState&>(it->second).retry_at_ms = 0;
    }
  }
  return due;
}

} // namespace medic::coordinator::plan
