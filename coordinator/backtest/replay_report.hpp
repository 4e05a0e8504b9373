// SPDX-License-Identifier: Apache-2.0
// What a backtest found: the incidents a candidate rule set would have opened over a past
// period, their diagnosis, the decisions the planner would have taken (run, wait for approval,
// observe only, held by which limit), the escalations, totals, and the live coordinator's own
// incident counts for the same period to compare with. Plain values; report_json() gives the
// admin answer (docs/backtesting.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/correlate/incident.hpp"

namespace medic::coordinator::backtest {

// One decision of the planner as the replay took it (a hold re-checked is recorded once).
struct ReplayDecision {
  std::int64_t time_ms = 0;
  std::string verdict; // plan::to_string(Verdict): run, await_approval, record_only, held, ...
  std::string action;  // the chosen candidate ('' when none)
  std::string reason;  // the planner's sentence: which rule, limit or policy decided
  // For a run: "succeeded"/"failed" with "(stored result)" when the store had what really
  // happened, or "succeeded (assumed after 5 s)"; '' otherwise.
  std::string outcome;
};

struct ReplayEscalation {
  std::int64_t time_ms = 0;
  std::string reason; // escalate::to_string(EscalationReason)
  std::string why;
};

struct ReplayIncident {
  correlate::Incident incident; // as it stood at the end of the period
  bool diagnosed = false;
  std::string rule_id; // "needs-review" when no rule matched
  std::string root_cause;
  double confidence = 0;
  std::string automation;
  std::vector<ReplayDecision> decisions; // at most ReplayOptions::max_decisions
  std::vector<ReplayEscalation> escalations;
};

struct ReplayTotals {
  std::uint64_t signals = 0;    // replayed
  std::uint64_t log_events = 0; // fed to diagnosis (log rules, templates)
  std::uint64_t results = 0;    // stored action outcomes looked at
  std::uint64_t incidents = 0;  // opened (reopenings counted in `reopened`)
  std::uint64_t host_incidents = 0;
  std::uint64_t fleet_incidents = 0;
  std::uint64_t reopened = 0;
  std::uint64_t linked = 0; // incidents linked to a root at the end (dependency, fleet, host)
  std::uint64_t flapping = 0;
  std::uint64_t diagnosed = 0;
  std::uint64_t needs_review = 0;
  std::uint64_t runs = 0;              // commands that would have been sent
  std::uint64_t awaiting_approval = 0; // approvals that would have been filed
  std::uint64_t approvals_timed_out = 0;
  std::uint64_t record_only = 0; // 'observe' decisions
  std::uint64_t held = 0;        // distinct hold decisions (a limit, inhibition, flapping)
  std::uint64_t escalations = 0;
  std::uint64_t outcomes_stored = 0;  // runs whose outcome came from a stored result
  std::uint64_t outcomes_assumed = 0; // runs assumed to succeed after the configured delay
  std::uint64_t recoveries_failed = 0;
  std::uint64_t dropped_signals = 0; // refused by the correlator (correlation.max_open)
};

// What the live rules did for the same period (incidents stored with first_seen in it).
struct LiveComparison {
  bool available = false;
  std::uint64_t incidents = 0;
  std::uint64_t fleet_incidents = 0;
  std::uint64_t escalated = 0;
  std::uint64_t needs_review = 0;
  bool cut = false; // more incidents than were read
};

struct ReplayReport {
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;
  std::string rules_origin;
  std::size_t rules = 0;
  std::size_t limit = 0;
  bool cut = false;           // the period held more signals than `limit`
  std::int64_t cut_at_ms = 0; // time of the last signal replayed when cut
  std::int64_t assumed_success_delay_ms = 0;
  std::size_t agents = 0;
  std::size_t agents_with_catalog = 0; // others: every candidate assumed in their catalog
  std::vector<std::string> notes;      // assumptions the operator should know
  ReplayTotals totals;
  std::vector<ReplayIncident> incidents; // by id, at most ReplayOptions::max_incidents
  std::size_t incidents_not_listed = 0;
  LiveComparison live;
};

[[nodiscard]] nlohmann::json report_json(const ReplayReport& report);

} // namespace medic::coordinator::backtest
