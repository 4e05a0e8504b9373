// SPDX-License-Identifier: Apache-2.0
#include "coordinator/backtest/replay_report.hpp"

namespace medic::coordinator::backtest {

namespace {

using nlohmann::json;

json incident_json(const ReplayIncident& entry) {
  const correlate::Incident& i = entry.incident;
  json decisions = json::array();
  for (const auto& d : entry.decisions) {
    decisions.push_back({{"time_ms", d.time_ms},
                         {"verdict", d.verdict},
                         {"action", d.action},
                         {"reason", d.reason},
                         {"outcome", d.outcome}});
  }
  json escalations = json::array();
  for (const auto& e : entry.escalations) {
    escalations.push_back({{"time_ms", e.time_ms}, {"reason", e.reason}, {"why", e.why}});
  }
  json diagnosis = json::object();
  if (entry.diagnosed) {
    diagnosis = {{"rule", entry.rule_id},
                 {"root_cause", entry.root_cause},
                 {"confidence", entry.confidence},
                 {"automation", entry.automation}};
  }
  return {{"id", i.id},
          {"kind", correlate::to_string(i.kind)},
          {"host", i.host},
          {"agent", i.agent_id},
          {"fingerprint", i.fingerprint},
          {"rule", i.rule},
          {"severity", protocol::to_string(i.severity)},
          {"state", correlate::to_string(i.state)},
          {"root", i.link == correlate::LinkReason::none},
          {"root_id", i.root_id},
          {"link", correlate::to_string(i.link)},
          {"flapping", i.flapping},
          {"fleet_hosts", i.fleet_hosts},
          {"count", i.count},
          {"reopened", i.reopened},
          {"first_seen_ms", i.first_seen_ms},
          {"last_seen_ms", i.last_seen_ms},
          {"resolved_ms", i.resolved_ms},
          {"diagnosis", std::move(diagnosis)},
          {"decisions", std::move(decisions)},
          {"escalations", std::move(escalations)}};
}

json totals_json(const ReplayTotals& t) {
  return {{"signals", t.signals},
          {"log_events", t.log_events},
          {"results", t.results},
          {"incidents", t.incidents},
          {"host_incidents", t.host_incidents},
          {"fleet_incidents", t.fleet_incidents},
          {"reopened", t.reopened},
          {"linked", t.linked},
          {"flapping", t.flapping},
          {"diagnosed", t.diagnosed},
          {"needs_review", t.needs_review},
          {"runs", t.runs},
          {"awaiting_approval", t.awaiting_approval},
          {"approvals_timed_out", t.approvals_timed_out},
          {"record_only", t.record_only},
          {"held", t.held},
          {"escalations", t.escalations},
          {"outcomes_stored", t.outcomes_stored},
          {"outcomes_assumed", t.outcomes_assumed},
          {"recoveries_failed", t.recoveries_failed},
          {"dropped_signals", t.dropped_signals}};
}

} // namespace

nlohmann::json report_json(const ReplayReport& report) {
  json incidents = json::array();
  for (const auto& entry : report.incidents) {
    incidents.push_back(incident_json(entry));
  }
  json live = {{"available", report.live.available}};
  if (report.live.available) {
    live.update({{"incidents", report.live.incidents},
                 {"fleet_incidents", report.live.fleet_incidents},
                 {"escalated", report.live.escalated},
                 {"needs_review", report.live.needs_review},
                 {"cut", report.live.cut}});
  }
  return {{"since_ms", report.since_ms},
          {"until_ms", report.until_ms},
          {"rules", {{"origin", report.rules_origin}, {"count", report.rules}}},
          {"limit", report.limit},
          {"cut", report.cut},
          {"cut_at_ms", report.cut_at_ms},
          {"assumed_success_delay_ms", report.assumed_success_delay_ms},
          {"agents", report.agents},
          {"agents_with_catalog", report.agents_with_catalog},
          {"notes", report.notes},
          {"totals", totals_json(report.totals)},
          {"incidents", std::move(incidents)},
          {"incidents_not_listed", report.incidents_not_listed},
          {"live", std::move(live)}};
}

} // namespace medic::coordinator::backtest
