// SPDX-License-Identifier: Apache-2.0
#include "coordinator/plan/planner.hpp"

#include <algorithm>
#include <cstdio>

namespace medic::coordinator::plan {

namespace {

std::string fixed(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  return buffer;
}

const protocol::ActionSchema* find_action(const PlanContext& context, std::string_view name) {
  if (context.catalog == nullptr) {
    return nullptr;
  }
  for (const auto& action : *context.catalog) {
    if (action.name == name) {
      return &action;
    }
  }
  return nullptr;
}

// The agent's declared risk, raised (never lowered) by the rule's. An unknown word counts as
// critical: an action nobody can place is treated as the most dangerous.
Risk resolve_risk(const protocol::ActionSchema& schema, const diagnose::Candidate& candidate,
                  std::string& note) {
  const Risk agent = parse_risk(schema.risk).value_or(Risk::critical);
  note = "risk " + std::string(to_string(agent)) + " (agent's)";
  if (candidate.risk.empty()) {
    return agent;
  }
  const Risk rule = parse_risk(candidate.risk).value_or(Risk::critical);
  if (rule > agent) {
    note = "risk " + std::string(to_string(rule)) + " (rule raised it from the agent's " +
           std::string(to_string(agent)) + ")";
    return rule;
  }
  if (rule < agent) {
    note += "; the rule's lower '" + candidate.risk + "' is ignored";
  }
  return agent;
}

std::string rule_words(const PlanContext& context) {
  return "rule '" + context.diagnosis.rule_id + "'";
}

std::string dropped_words(const std::vector<Dropped>& dropped) {
  std::string words;
  for (const auto& d : dropped) {
    words += (words.empty() ? "" : "; ") + d.action + ": " + d.reason;
  }
  return words.empty() ? "none" : words;
}

} // namespace

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
  case Verdict::run: return "run";
  case Verdict::await_approval: return "await_approval";
  case Verdict::record_only: return "record_only";
  case Verdict::held: return "held";
  case Verdict::escalate: return "escalate";
  case Verdict::nothing_to_do: return "nothing_to_do";
  }
  return "unknown";
}

RecoveryKey recovery_key(const PlanContext& context, const Ranked& chosen) {
  return RecoveryKey{context.incident.id, context.incident.host, chosen.candidate.action,
                     context.incident.fingerprint};
}

Planner::Planner(PlanConfig config, learn::Learner& learner)
    : m_config(std::move(config)),
      m_learner(learner),
      m_limits(m_config),
      m_approvals(m_config.max_pending_approvals, m_config.approval_timeout.count()),
      m_autonomy(m_config) {
  // finish_plan normally did this; a config built in code may not have been through it.
  m_config.max_auto = parse_risk(m_config.max_auto_risk).value_or(m_config.max_auto);
}

void Planner::reconfigure(const PlanConfig& config) {
  const auto max_tracked = m_config.max_tracked;
  const auto max_pending = m_config.max_pending_approvals;
  const auto approval_timeout = m_config.approval_timeout;
  m_config = config; // assigned in place: m_limits and m_autonomy keep their reference
  m_config.max_tracked = max_tracked;
  m_config.max_pending_approvals = max_pending;
  m_config.approval_timeout = approval_timeout;
  m_config.max_auto = parse_risk(m_config.max_auto_risk).value_or(m_config.max_auto);
}

std::optional<Ranked> Planner::rank_one(const PlanContext& context,
                                        const diagnose::Candidate& candidate,
                                        std::string& drop_reason) const {
  const protocol::ActionSchema* schema = find_action(context, candidate.action);
  if (schema == nullptr) {
    drop_reason = "not in the agent's catalog";
    return std::nullopt;
  }
  const auto& tried = context.tried_actions;
  if (std::find(tried.begin(), tried.end(), candidate.action) != tried.end()) {
    drop_reason = "already tried on this incident";
    return std::nullopt;
  }
  if (const Approval* a = m_approvals.latest(context.incident.id, candidate.action)) {
    if (a->state == ApprovalState::denied || a->state == ApprovalState::expired) {
      drop_reason = "approval " + std::to_string(a->id) + " was " +
                    std::string(to_string(a->state)) + " (by " + a->decided_by + ")";
      return std::nullopt;
    }
  }
  Ranked ranked;
  ranked.candidate = candidate;
  std::string risk_note;
  const Risk risk = resolve_risk(*schema, candidate, risk_note);
  ranked.risk = to_string(risk);
  const learn::Posterior posterior =
      m_learner.posterior(learn::diagnosis_key(context.diagnosis), candidate.action,
                          candidate.prior_success, candidate.prior_weight);
  ranked.posterior_mean = posterior.mean();
  ranked.score = ranked.posterior_mean - k_risk_penalty[static_cast<std::size_t>(risk)];
  ranked.why = "learned success " + fixed(ranked.posterior_mean) + " (" +
               std::to_string(posterior.successes) + " of " + std::to_string(posterior.attempts) +
               " verified, prior " + fixed(candidate.prior_success) + "), " + risk_note +
               ", score " + fixed(ranked.score);
  return ranked;
}

std::vector<Ranked> Planner::rank(const PlanContext& context, std::vector<Dropped>& dropped) {
  std::vector<Ranked> ranking;
  const std::string key = learn::diagnosis_key(context.diagnosis);
  for (const auto& candidate : context.diagnosis.candidates) {
    const bool seen = std::any_of(ranking.begin(), ranking.end(), [&](const Ranked& r) {
      return r.candidate.action == candidate.action;
    });
    std::string reason;
    auto ranked = seen ? std::nullopt : rank_one(context, candidate, reason);
    if (!ranked) {
      dropped.push_back({candidate.action, seen ? "listed twice by the rule" : reason});
      continue;
    }
    if (context.diagnosis.automation == diagnose::Automation::approve) {
      m_autonomy.eligible(key, candidate.action);
    }
    ranking.push_back(std::move(*ranked));
  }
  std::stable_sort(ranking.begin(), ranking.end(), [](const Ranked& a, const Ranked& b) {
    if (a.score != b.score) {
      return a.score > b.score;
    }
    return parse_risk(a.risk) < parse_risk(b.risk);
  });
  return ranking;
}

namespace {

// Maintenance and inhibition hold whatever the rule says.
std::optional<std::string> held_by_context(const PlanContext& context) {
  const auto& incident = context.incident;
  if (context.maintenance) {
    return "host '" + incident.host + "' is in a maintenance window or a freeze: no remediation";
  }
  if (context.inhibited) {
    return "incident " + std::to_string(incident.id) + " is linked to incident " +
           std::to_string(incident.root_id) + " (" +
           std::string(correlate::to_string(incident.link)) +
           "), the probable root cause: it is not remediated on its own";
  }
  return std::nullopt;
}

} // namespace

bool Planner::gate(const PlanContext& context, Decision& decision) const {
  const auto finish = [&decision](Verdict verdict, std::string reason) {
    decision.verdict = verdict;
    decision.reason = std::move(reason);
    return true;
  };
  if (auto held = held_by_context(context)) {
    return finish(Verdict::held, std::move(*held));
  }
  if (context.diagnosis.candidates.empty()) {
    return finish(
        Verdict::nothing_to_do,
        rule_words(context) + " (" + context.diagnosis.root_cause + ") proposes no action");
  }
  if (context.diagnosis.automation == diagnose::Automation::observe) {
    decision.chosen =
        decision.ranking.empty() ? std::nullopt : std::optional(decision.ranking.front());
    return finish(Verdict::record_only,
                  rule_words(context) + " says observe: " +
                      (decision.chosen ? "'" + decision.chosen->candidate.action +
                                             "' would be first; recorded only"
                                       : std::string("no candidate could run; recorded only")));
  }
  if (context.attempts_so_far >= m_config.max_attempts) {
    return finish(Verdict::escalate,
                  std::to_string(context.attempts_so_far) +
                      " actions were tried on this incident (plan.max_attempts " +
                      std::to_string(m_config.max_attempts) + "): escalating");
  }
  if (decision.ranking.empty()) {
    return finish(Verdict::escalate, "no candidate of " + rule_words(context) +
                                         " is left to try (" + dropped_words(decision.dropped) +
                                         "): escalating");
  }
  return false;
}

Decision Planner::decide(const PlanContext& context, std::int64_t now_ms) {
  Decision decision;
  decision.dry_run = m_config.dry_run;
  decision.ranking = rank(context, decision.dropped);
  if (!gate(context, decision)) {
    choose(context, decision, now_ms);
  }
  if (decision.dry_run) {
    decision.reason += " (dry run: no command is sent)";
  }
  return decision;
}

// An action already waiting for (or given) approval on this incident stays the choice, so
// that learning between two decisions does not file a second approval for another action.
const Approval* Planner::open_approval(const PlanContext& context, Decision& decision) const {
  for (const Ranked& ranked : decision.ranking) {
    const Approval* approval = m_approvals.latest(context.incident.id, ranked.candidate.action);
    if (approval != nullptr &&
        (approval->state == ApprovalState::pending || approval->state == ApprovalState::approved)) {
      decision.chosen = ranked;
      return approval;
    }
  }
  decision.chosen = decision.ranking.front();
  return nullptr;
}

void Planner::choose(const PlanContext& context, Decision& decision, std::int64_t now_ms) {
  const Approval* approval = open_approval(context, decision);
  const Ranked& chosen = *decision.chosen;
  if (approval != nullptr && approval->state == ApprovalState::pending) {
    decision.verdict = Verdict::await_approval;
    decision.approval = approval->id;
    decision.reason = "'" + chosen.candidate.action + "' waits for approval " +
                      std::to_string(approval->id) + " (expires at " +
                      format_utc(approval->expires_ms) + ")";
    return;
  }
  if (approval != nullptr && approval->state == ApprovalState::approved) {
    decision.approval = approval->id;
    decision.reason = "'" + chosen.candidate.action + "' was approved by " + approval->decided_by +
                      " (approval " + std::to_string(approval->id) + ")";
  } else if (needs_approval(context, decision)) {
    decision.verdict = Verdict::await_approval;
    return;
  }
  check_limits(context, decision, now_ms);
}

bool Planner::needs_approval(const PlanContext& context, Decision& decision) const {
  const Ranked& chosen = *decision.chosen;
  const std::string& action = chosen.candidate.action;
  if (context.fleet_member) {
    decision.reason = "incident " + std::to_string(context.incident.id) +
                      " is part of a fleet incident: the blast-radius guard needs approval "
                      "before '" +
                      action + "' runs";
    return true;
  }
  if (context.diagnosis.automation == diagnose::Automation::approve) {
    if (!m_autonomy.promoted(learn::diagnosis_key(context.diagnosis), action, m_learner)) {
      decision.reason = rule_words(context) + " says approve: '" + action + "' (" + chosen.why +
                        ") waits for medicctl approve";
      return true;
    }
    decision.earned_autonomy = true;
  }
  if (parse_risk(chosen.risk).value_or(Risk::critical) > m_config.max_auto) {
    decision.reason = "'" + action + "' is " + chosen.risk + " risk, above plan.max_auto_risk " +
                      m_config.max_auto_risk + ": it waits for approval";
    return true;
  }
  decision.reason = (decision.earned_autonomy ? rule_words(context) + " says approve, but '" +
                                                    action + "' earned autonomy for this diagnosis"
                                              : rule_words(context) + " says auto") +
                    ": running '" + action + "', ranked first (" + chosen.why + ")";
  return false;
}

void Planner::check_limits(const PlanContext& context, Decision& decision, std::int64_t now_ms) {
  if (!context.agent_connected) {
    decision.verdict = Verdict::held;
    decision.reason = "the agent of host '" + context.incident.host +
                      "' is not connected; decided again when it is (" + decision.reason + ")";
    return;
  }
  if (auto hold = m_limits.check(recovery_key(context, *decision.chosen), now_ms)) {
    decision.verdict = Verdict::held;
    decision.retry_at_ms = hold->retry_at_ms;
    decision.reason = "held: " + hold->reason;
    return;
  }
  decision.verdict = Verdict::run;
}

void Planner::started(const RecoveryKey& key, std::int64_t now_ms) {
  m_limits.started(key, now_ms);
  m_approvals.used(key.incident, key.action);
}

void Planner::finished(const RecoveryKey& key, bool success, std::int64_t now_ms) {
  m_limits.finished(key, success, now_ms);
}

Result<Approval> Planner::request_approval(const PlanContext& context, const Decision& decision,
                                           std::int64_t now_ms) {
  if (decision.verdict != Verdict::await_approval || !decision.chosen) {
    return fail(ErrorCode::invalid_argument,
                "incident " + std::to_string(context.incident.id) +
                    ": only a decision that awaits approval files one (this one is " +
                    std::string(to_string(decision.verdict)) + ")");
  }
  Approval request;
  request.incident = context.incident.id;
  request.host = context.incident.host;
  request.diagnosis = learn::diagnosis_key(context.diagnosis);
  request.action = decision.chosen->candidate.action;
  request.params = decision.chosen->candidate.params;
  request.risk = decision.chosen->risk;
  request.reason = decision.reason;
  return m_approvals.request(std::move(request), now_ms);
}

Result<Approval> Planner::approve(ApprovalId id, std::string_view who, std::int64_t now_ms) {
  return m_approvals.approve(id, who, now_ms);
}

Result<Approval> Planner::deny(ApprovalId id, std::string_view who, std::int64_t now_ms) {
  return m_approvals.deny(id, who, now_ms);
}

std::vector<Approval> Planner::expired(std::int64_t now_ms) {
  return m_approvals.expire(now_ms);
}

std::vector<Approval> Planner::pending() const {
  return m_approvals.pending();
}

std::vector<AutonomyChange> Planner::review_autonomy(std::int64_t now_ms) {
  return m_autonomy.review(m_learner, now_ms);
}

PlannerSnapshot Planner::snapshot() const {
  return PlannerSnapshot{m_approvals.all(), m_autonomy.rows(), m_limits.cooldown_rows(),
                         m_limits.start_rows()};
}

Result<void> Planner::restore(const PlannerSnapshot& snapshot) {
  if (auto ok = m_approvals.restore(snapshot.approvals); !ok) {
    return ok;
  }
  m_autonomy.restore(snapshot.autonomy);
  m_limits.restore(snapshot.cooldowns, snapshot.starts);
  return {};
}

PlannerCounters Planner::counters() const noexcept {
  return PlannerCounters{m_limits.counters(), m_autonomy.evictions()};
}

} // namespace medic::coordinator::plan
