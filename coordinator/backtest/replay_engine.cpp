// SPDX-License-Identifier: Apache-2.0
// ReplayEngine: simulated time, intake of the stored period, and the incident life cycle
// (fold, diagnose, escalate, resolve) as engine/engine.cpp does it.
#include "coordinator/backtest/replay_engine.hpp"

#include <algorithm>
#include <limits>

#include "coordinator/escalate/escalation_rules.hpp"

namespace medic::coordinator::backtest {

namespace detail {

namespace {

constexpr std::int64_t k_tick_ms = 1000;            // the live engine ticks faster; 1 s is enough
constexpr std::uint64_t k_forget_every_ticks = 60;  // work of forgotten incidents is dropped
constexpr std::int64_t k_after_last_ms = 3'600'000; // simulated past the last signal at most

engine::EngineConfig replay_config(const engine::EngineConfig& config) {
  engine::EngineConfig copy = config;
  copy.plan.dry_run = false; // nothing is ever sent: no need to say it on every decision
  copy.diagnose.rules = {};  // the candidate rules are used instead
  return copy;
}

engine::FleetLimits fleet_limits(const engine::EngineConfig& config) {
  engine::FleetLimits limits;
  limits.recent_window_ms = config.diagnose.recent_window.count();
  return limits;
}

} // namespace

ReplayEngine::ReplayEngine(const ReplayInput& input, const engine::EngineConfig& config,
                           const diagnose::RuleSet& rules, const ReplayOptions& options)
    : m_input(input),
      m_config(replay_config(config)),
      m_rules(rules),
      m_options(options),
      m_fleet(fleet_limits(config)),
      m_correlator(m_config.correlation),
      m_learner(m_config.learn),
      m_planner(m_config.plan, m_learner),
      m_recovery(m_planner, m_learner),
      m_result_used(input.results.size(), false) {
  if (options.learned != nullptr) {
    (void)m_learner.restore(*options.learned); // a bad snapshot leaves the priors only
  }
  std::vector<correlate::KnownAgent> known;
  for (const auto& agent : input.agents) {
    m_agents[agent.id] = &agent;
    protocol::Hello hello;
    hello.host = agent.host.empty() ? agent.id : agent.host;
    hello.labels = agent.labels;
    hello.actions = agent.catalog.value_or(std::vector<protocol::ActionSchema>{});
    m_fleet.hello(agent.id, hello);
    known.push_back({agent.id, hello.host, agent.labels});
  }
  m_correlator.set_agents(known);
  for (std::size_t i = 0; i < input.results.size(); ++i) {
    m_results_by_agent[input.results[i].agent_id].push_back(i);
  }
  m_next_tick_ms = input.signals.empty() ? input.since_ms : input.signals.front().signal.time_ms;
}

void ReplayEngine::run() {
  const auto& signals = m_input.signals;
  const auto& logs = m_input.log_events;
  const auto& results = m_input.results;
  std::size_t s = 0;
  std::size_t l = 0;
  std::size_t r = 0;
  constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
  while (s < signals.size()) {
    const std::int64_t signal_ms = signals[s].signal.time_ms;
    const std::int64_t log_ms = l < logs.size() ? logs[l].event.time_ms : never;
    const std::int64_t result_ms = r < results.size() ? results[r].result.started_ms : never;
    // What the host logged or did up to the signal is known when it is diagnosed.
    if (log_ms <= signal_ms && log_ms <= result_ms) {
      advance(log_ms);
      protocol::Batch batch;
      batch.logs.push_back(logs[l++].event);
      m_fleet.batch(logs[l - 1].agent_id, batch, log_ms);
      ++m_totals.log_events;
    } else if (result_ms <= signal_ms) {
      advance(result_ms);
      m_fleet.recovery(results[r].agent_id, results[r].result);
      ++r;
    } else {
      advance(signal_ms);
      on_signal(signals[s++]);
    }
  }
  m_totals.results = results.size();
  const std::int64_t last = signals.empty() ? m_input.since_ms : signals.back().signal.time_ms;
  const std::int64_t end = m_input.cut ? last : std::min(m_input.until_ms, last + k_after_last_ms);
  advance(std::max(end, last));
}

bool ReplayEngine::idle() const {
  return m_correlator.open_count() == 0 && m_finishing.empty() && m_recovery.nothing_due() &&
         m_planner.pending().empty();
}

void ReplayEngine::advance(std::int64_t to_ms) {
  for (;;) {
    if (m_next_tick_ms < to_ms && idle()) {
      m_next_tick_ms = to_ms; // nothing can happen in between: one tick at `to_ms`
    }
    std::int64_t next = m_next_tick_ms;
    if (!m_finishing.empty()) {
      next = std::min(next, m_finishing.begin()->first);
    }
    if (const auto due = m_recovery.next_due_ms()) {
      next = std::min(next, *due);
    }
    if (next > to_ms) {
      return;
    }
    if (next == m_next_tick_ms) {
      tick(next);
      m_next_tick_ms = next + k_tick_ms;
    }
    finish_due(next);
    replan_due(next);
  }
}

void ReplayEngine::tick(std::int64_t now_ms) {
  for (const auto& event : m_correlator.tick(now_ms)) {
    on_event(event, now_ms);
  }
  expire_approvals(now_ms);
  if (++m_ticks % k_forget_every_ticks == 0) {
    std::erase_if(m_work, [this](const auto& entry) {
      return m_correlator.find(entry.first) == nullptr && !entry.second.in_flight;
    });
  }
}

void ReplayEngine::on_signal(const storage::SignalRecord& record) {
  ++m_totals.signals;
  const std::int64_t now_ms = record.signal.time_ms;
  correlate::SignalInput input;
  input.agent_id = record.agent_id;
  if (const auto* view = m_fleet.find(record.agent_id); view != nullptr) {
    input.host = view->host;
    input.agent_labels = view->labels;
  }
  if (input.host.empty()) {
    input.host = record.agent_id;
  }
  input.signal = record.signal;
  input.received_ms = now_ms;
  const std::uint64_t dropped = m_correlator.dropped();
  for (const auto& event : m_correlator.on_signal(input, now_ms)) {
    on_event(event, now_ms);
  }
  m_totals.dropped_signals += m_correlator.dropped() - dropped;
}

void ReplayEngine::on_event(const correlate::IncidentEvent& event, std::int64_t now_ms) {
  using correlate::EventKind;
  const correlate::Incident& incident = event.incident;
  switch (event.kind) {
  case EventKind::opened:
  case EventKind::reopened:
  case EventKind::fleet_opened:
    on_opened(incident, event.kind == EventKind::reopened || incident.reopened > 0, now_ms);
    break;
  case EventKind::severity_raised:
  case EventKind::flapping: maybe_escalate(incident, now_ms); break;
  case EventKind::linked:
    if (incident.state == correlate::IncidentState::open && !m_correlator.inhibited(incident) &&
        m_work[incident.id].attempts == 0 && m_work[incident.id].retry_at_ms == 0) {
      plan_recovery(incident, now_ms);
    }
    break;
  case EventKind::resolved:
    if (auto it = m_work.find(incident.id); it != m_work.end() && it->second.approval_id != 0) {
      (void)m_planner.deny(it->second.approval_id, "coordinator", now_ms);
      it->second.approval_id = 0;
    }
    break;
  case EventKind::fleet_member:
    if (const auto* fleet = m_correlator.find(incident.root_id); fleet != nullptr) {
      (void)record(*fleet);
    }
    break;
  default: break;
  }
  (void)record(incident);
}

void ReplayEngine::on_opened(const correlate::Incident& incident, bool reopening,
                             std::int64_t now_ms) {
  if (reopening) {
    ++m_totals.reopened;
  } else {
    ++m_totals.incidents;
    ++(incident.kind == correlate::IncidentKind::fleet ? m_totals.fleet_incidents
                                                       : m_totals.host_incidents);
    if (m_records.size() >= m_options.max_incidents) {
      ++m_records_not_listed;
    } else {
      m_records[incident.id].incident = incident;
    }
  }
  if (incident.kind == correlate::IncidentKind::host) {
    m_fleet.incident_opened(incident.agent_id, now_ms);
  }
  Work& work = m_work[incident.id];
  schedule(incident.id, work, 0);
  const bool in_flight = work.in_flight;
  work = Work{}; // a reopening starts a new round, as in the live engine
  work.in_flight = in_flight;
  diagnose_incident(incident, now_ms);
  maybe_escalate(incident, now_ms);
  if (incident.kind == correlate::IncidentKind::host) {
    if (m_config.settle.count() == 0) {
      plan_recovery(incident, now_ms);
    } else {
      schedule(incident.id, work, now_ms + m_config.settle.count());
    }
  }
}

void ReplayEngine::diagnose_incident(const correlate::Incident& incident, std::int64_t now_ms) {
  Work& work = m_work[incident.id];
  work.diagnosis = diagnose::diagnose(m_rules, m_fleet.diagnosis_input(incident, now_ms));
  const diagnose::Diagnosis& d = *work.diagnosis;
  ++m_totals.diagnosed;
  if (d.rule_id == diagnose::k_needs_review) {
    ++m_totals.needs_review;
  }
  if (ReplayIncident* entry = record(incident); entry != nullptr) {
    entry->diagnosed = true;
    entry->rule_id = d.rule_id;
    entry->root_cause = d.root_cause;
    entry->confidence = d.confidence;
    entry->automation = diagnose::to_string(d.automation);
  }
}

void ReplayEngine::maybe_escalate(const correlate::Incident& incident, std::int64_t now_ms) {
  Work& work = m_work[incident.id];
  if (work.escalated || incident.state != correlate::IncidentState::open) {
    return;
  }
  const auto& rules = m_config.escalation.rules;
  auto facts = escalate::facts_of(incident);
  facts.failed_attempts = work.failed;
  if (work.gave_up) {
    facts.failed_attempts =
        std::max(facts.failed_attempts, std::max(rules.max_failed_attempts, 1U));
  }
  facts.approval_timed_out = work.approval_timed_out;
  facts.needs_review = work.diagnosis && work.diagnosis->rule_id == diagnose::k_needs_review;
  const auto decision = escalate::decide_escalation(rules, facts);
  if (!decision) {
    return;
  }
  work.escalated = true;
  ++m_totals.escalations;
  if (ReplayIncident* entry = record(incident); entry != nullptr) {
    entry->escalations.push_back(
        {now_ms, std::string(escalate::to_string(decision->reason)), decision->why});
  }
}

ReplayIncident* ReplayEngine::record(const correlate::Incident& incident) {
  const auto it = m_records.find(incident.id);
  if (it == m_records.end()) {
    return nullptr; // beyond ReplayOptions::max_incidents: counted only
  }
  it->second.incident = incident;
  return &it->second;
}

ReplayReport ReplayEngine::report() {
  ReplayReport report;
  report.since_ms = m_input.since_ms;
  report.until_ms = m_input.until_ms;
  report.rules_origin = m_rules.origin();
  report.rules = m_rules.size();
  report.limit = m_options.limit;
  report.cut = m_input.cut;
  report.cut_at_ms =
      m_input.cut && !m_input.signals.empty() ? m_input.signals.back().signal.time_ms : 0;
  report.assumed_success_delay_ms = m_options.assumed_success_delay.count();
  report.agents = m_input.agents.size();
  report.agents_with_catalog = static_cast<std::size_t>(
      std::count_if(m_input.agents.begin(), m_input.agents.end(),
                    [](const ReplayAgent& agent) { return agent.catalog.has_value(); }));
  for (auto& [id, entry] : m_records) {
    if (const auto* now = m_correlator.find(id); now != nullptr) {
      entry.incident = *now;
    }
    m_totals.flapping += entry.incident.flapping ? 1 : 0;
    m_totals.linked += entry.incident.link != correlate::LinkReason::none ? 1 : 0;
    report.incidents.push_back(std::move(entry));
  }
  m_records.clear();
  report.incidents_not_listed = m_records_not_listed;
  report.totals = m_totals;
  return report;
}

} // namespace detail

ReplayReport replay(const ReplayInput& input, const engine::EngineConfig& config,
                    const diagnose::RuleSet& rules, const ReplayOptions& options) {
  detail::ReplayEngine engine(input, config, rules, options);
  engine.run();
  return engine.report();
}

} // namespace medic::coordinator::backtest
