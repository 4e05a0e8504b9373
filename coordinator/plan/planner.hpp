// SPDX-License-Identifier: Apache-2.0
// Planner: decides what recovery to run for a diagnosed incident, and whether it runs now,
// waits for approval, is only recorded, is held back, or the incident goes to a person. It
// ranks the diagnosis' candidates that the agent's catalog has by learned success (the
// learner's Beta posterior, seeded with the candidate's prior) and risk, then applies the
// rule's automation level, plan.max_auto_risk, the blast-radius guard, inhibition, maintenance,
// the attempts ceiling, approvals, earned autonomy and the recovery limits, in that order. The
// decision carries a plain sentence saying which rule, limit or policy decided.
// Pure: time comes in as Unix ms; the engine's thread owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/correlate/incident.hpp"
#include "coordinator/diagnose/diagnosis.hpp"
#include "coordinator/learn/learner.hpp"
#include "coordinator/plan/approval_book.hpp"
#include "coordinator/plan/autonomy_book.hpp"
#include "coordinator/plan/plan_config.hpp"
#include "coordinator/plan/recovery_limits.hpp"
#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::plan {

struct AgentCatalog {
  std::vector<protocol::ActionSchema> actions; // from the agent's HELLO
};

// The facts the engine gathers before asking.
struct PlanContext {
  correlate::Incident incident;
  diagnose::Diagnosis diagnosis;
  const std::vector<protocol::ActionSchema>* catalog = nullptr; // nullptr: unknown agent
  bool agent_connected = false;
  bool inhibited = false;    // linked to an open dependency/fleet root
  bool fleet_member = false; // blast-radius guard: needs approval
  bool maintenance = false;  // window or freeze: no remediation
  std::uint32_t attempts_so_far = 0;
  std::vector<std::string> tried_actions;
};

enum class Verdict : std::uint8_t {
  run,            // send the COMMAND now (unless Decision::dry_run)
  await_approval, // file (or keep waiting on) an approval
  record_only,    // the rule says observe
  held,           // not now: maintenance, inhibition, a limit, a disconnected agent
  escalate,       // attempts used up, or nothing left to try: a person must look
  nothing_to_do,  // the diagnosis proposes no action
};

[[nodiscard]] std::string_view to_string(Verdict verdict) noexcept;

struct Ranked {
  diagnose::Candidate candidate;
  double score = 0; // posterior_mean - the risk's penalty
  double posterior_mean = 0;
  std::string risk; // as resolved: the agent's, or the rule's when higher
  std::string why;  // the figures behind the score
};

struct Dropped {
  std::string action;
  std::string reason;
};

struct Decision {
  Verdict verdict = Verdict::nothing_to_do;
  std::optional<Ranked> chosen;
  std::vector<Ranked> ranking;             // best first
  std::vector<Dropped> dropped;            // candidates left out of the ranking, with why
  std::string reason;                      // one plain sentence: which rule, which limit or policy
  bool dry_run = false;                    // plan.dry_run: the engine records but sends nothing
  bool earned_autonomy = false;            // an 'approve' rule's action runs as 'auto' (promoted)
  std::optional<std::int64_t> retry_at_ms; // held by a limit that frees up at a known time
  std::optional<ApprovalId> approval;      // the approval waited on, or the one that allowed it
};

// Penalties subtracted from the learned success: a riskier action must be clearly better.
inline constexpr double k_risk_penalty[] = {0.0, 0.05, 0.15, 0.30};

// The key the engine passes to started()/finished() for the chosen candidate.
[[nodiscard]] RecoveryKey recovery_key(const PlanContext& context, const Ranked& chosen);

// The planner's state worth keeping across a coordinator restart (plain rows for storage).
struct PlannerSnapshot {
  std::vector<Approval> approvals;
  std::vector<AutonomyRow> autonomy;
  std::vector<CooldownRow> cooldowns;
  std::vector<ActionStartsRow> starts;
  friend bool operator==(const PlannerSnapshot&, const PlannerSnapshot&) = default;
};

struct PlannerCounters {
  LimitCounters limits;
  std::uint64_t autonomy_evictions = 0;
};

class Planner {
public:
  // `config` as finish_plan left it; `learner` must outlive the planner.
  Planner(PlanConfig config, learn::Learner& learner);
  // The limits and books refer to m_config: neither copied nor moved.
  Planner(const Planner&) = delete;
  Planner& operator=(const Planner&) = delete;
  Planner(Planner&&) = delete;
  Planner& operator=(Planner&&) = delete;
  ~Planner() = default;

  // A config reload: every plan.* key applies from the next decision, but max_tracked,
  // max_pending_approvals and approval_timeout (the books were built with them: a restart
  // changes them). The limits and books see the change (they refer to m_config).
  void reconfigure(const PlanConfig& config);

  [[nodiscard]] Decision decide(const PlanContext& context, std::int64_t now_ms);

  void started(const RecoveryKey& key, std::int64_t now_ms);
  // Call after the RESULT with its verified post-condition; feeds the cooldown backoff.
  // (The learner is fed by the engine with learn::Learner::record_outcome.)
  void finished(const RecoveryKey& key, bool success, std::int64_t now_ms);

  // For a decision with Verdict::await_approval; returns the pending one if already filed.
  [[nodiscard]] Result<Approval> request_approval(const PlanContext& context,
                                                  const Decision& decision, std::int64_t now_ms);
  [[nodiscard]] Result<Approval> approve(ApprovalId id, std::string_view who, std::int64_t now_ms);
  [[nodiscard]] Result<Approval> deny(ApprovalId id, std::string_view who, std::int64_t now_ms);
  // Pending approvals that timed out, each returned once: the engine escalates them.
  [[nodiscard]] std::vector<Approval> expired(std::int64_t now_ms);
  [[nodiscard]] std::vector<Approval> pending() const;

  // Promotions and demotions since the last review, for the audit. Call after outcomes.
  [[nodiscard]] std::vector<AutonomyChange> review_autonomy(std::int64_t now_ms);

  [[nodiscard]] PlannerSnapshot snapshot() const;
  // Replaces approvals, autonomy and cooldown state; on error nothing changed.
  [[nodiscard]] Result<void> restore(const PlannerSnapshot& snapshot);

  [[nodiscard]] PlannerCounters counters() const noexcept;
  [[nodiscard]] std::size_t running() const noexcept { return m_limits.running(); }
  [[nodiscard]] const RecoveryLimits& limits() const noexcept { return m_limits; }

private:
  [[nodiscard]] std::vector<Ranked> rank(const PlanContext& context, std::vector<Dropped>& dropped);
  [[nodiscard]] std::optional<Ranked> rank_one(const PlanContext& context,
                                               const diagnose::Candidate& candidate,
                                               std::string& drop_reason) const;
  [[nodiscard]] bool gate(const PlanContext& context, Decision& decision) const;
  void choose(const PlanContext& context, Decision& decision, std::int64_t now_ms);
  [[nodiscard]] const Approval* open_approval(const PlanContext& context, Decision& decision) const;
  [[nodiscard]] bool needs_approval(const PlanContext& context, Decision& decision) const;
  void check_limits(const PlanContext& context, Decision& decision, std::int64_t now_ms);

  PlanConfig m_config;
  learn::Learner& m_learner;
  RecoveryLimits m_limits;
  ApprovalBook m_approvals;
  AutonomyBook m_autonomy;
};

} // namespace medic::coordinator::plan
