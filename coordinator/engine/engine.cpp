// SPDX-License-Identifier: Apache-2.0
// Engine: intake (HELLO, batches, RESULTs) and the incident life cycle — fold, diagnose,
// escalate, resolve. Planning and dispatch are in engine_recovery.cpp, operator requests in
// engine_control.cpp, persistence in engine_persist.cpp.
#include "coordinator/engine/engine.hpp"

#include <spdlog/spdlog.h>

#include "coordinator/escalate/incident_context.hpp"
#include "coordinator/escalate/notification.hpp"
#include "shared/uv/handle.hpp"

namespace medic::coordinator::engine {

namespace {

constexpr std::uint64_t k_tick_ms = 250;   // settle and held recoveries are checked this often
constexpr std::size_t k_signals_kept = 16; // per incident, for the escalation context

nlohmann::json candidates_json(const diagnose::Diagnosis& diagnosis) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& candidate : diagnosis.candidates) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& param : candidate.params) {
      params[param.name] = param.value;
    }
    list.push_back({{"action", candidate.action},
                    {"params", std::move(params)},
                    {"prior_success", candidate.prior_success},
                    {"risk", candidate.risk}});
  }
  return list;
}

} // namespace

Engine::Engine(uv_loop_t& loop, const Clock& clock, const EngineConfig& config,
               diagnose::RuleSet rules, server::CommandSender& sender, uv::Worker& storage_worker,
               storage::Store& store)
    : m_loop(loop),
      m_clock(clock),
      m_config(config),
      m_rules(std::move(rules)),
      m_sender(sender),
      m_storage_worker(storage_worker),
      m_store(store),
      m_fleet([&config] {
        FleetLimits limits;
        limits.recent_window_ms = config.diagnose.recent_window.count();
        return limits;
      }()),
      m_correlator(config.correlation),
      m_learner(config.learn),
      m_planner(config.plan, m_learner),
      m_escalator(escalate::make_escalator(config.escalation)),
      m_started_ms(clock.now_unix_ms()),
      m_dry_run(config.plan.dry_run) {
  m_config.diagnose.rules = {}; // m_rules holds them: one copy of a large rule set is enough
}

Engine::~Engine() {
  close();
}

void Engine::start() {
  uv_timer_init(&m_loop, &m_timer);
  m_timer.data = this;
  m_timer_open = true;
  uv_timer_start(
      &m_timer, [](uv_timer_t* timer) { static_cast<Engine*>(timer->data)->tick(); }, k_tick_ms,
      k_tick_ms);
}

void Engine::close() noexcept {
  if (m_timer_open) {
    m_timer_open = false;
    uv::close_handle(m_timer);
    const std::int64_t now_ms = m_clock.now_unix_ms();
    save_learned(now_ms);
    flush(now_ms);
  }
  if (m_escalator) {
    m_escalator->stop();
  }
}

void Engine::on_hello(const std::string& agent_id, const protocol::Hello& hello,
                      std::int64_t received_ms) noexcept {
  try {
    m_fleet.hello(agent_id, hello);
    const correlate::KnownAgent known{agent_id, hello.host, hello.labels};
    m_correlator.set_agents(std::span(&known, 1));
    push_policy(agent_id, received_ms); // its fallback healing honours maintenance offline
  } catch (const std::exception& e) {
    spdlog::error("engine: HELLO from {}: {}", agent_id, e.what());
  }
}

void Engine::on_batch(const std::string& agent_id, const protocol::Batch& batch,
                      std::int64_t received_ms) noexcept {
  try {
    m_fleet.batch(agent_id, batch, received_ms);
    const AgentView* view = m_fleet.find(agent_id);
    for (const auto& sample : batch.samples) {
      if (view != nullptr) {
        m_learner.add_sample(view->host, sample.name, sample.value, sample.time_ms);
      }
    }
    for (const auto& signal : batch.signals) {
      on_signal(agent_id, signal, received_ms);
    }
    for (const auto& result : batch.results) {
      on_command_result(agent_id, result, received_ms);
    }
  } catch (const std::exception& e) {
    spdlog::error("engine: batch from {}: {}", agent_id, e.what());
  }
}

void Engine::on_result(const std::string& agent_id, const protocol::CommandResult& result,
                       std::int64_t received_ms) noexcept {
  try {
    m_fleet.recovery(agent_id, result);
    on_command_result(agent_id, result, received_ms);
  } catch (const std::exception& e) {
    spdlog::error("engine: RESULT from {}: {}", agent_id, e.what());
  }
}

void Engine::on_alerts(std::vector<escalate::InboundAlert> alerts,
                       std::int64_t received_ms) noexcept {
  try {
    for (auto& alert : alerts) {
      std::string agent_id = m_fleet.agent_for_host(alert.host);
      if (agent_id.empty()) {
        agent_id = std::string(k_alert_agent_prefix) + (alert.host.empty() ? "-" : alert.host);
        if (AgentView* view = m_fleet.agent(agent_id); view != nullptr && view->host.empty()) {
          view->host = alert.host.empty() ? agent_id : alert.host;
        }
      }
      ++m_counters.alerts;
      on_signal(agent_id, alert.signal, received_ms);
    }
  } catch (const std::exception& e) {
    spdlog::error("engine: alerts from Alertmanager: {}", e.what());
  }
}

void Engine::on_signal(const std::string& agent_id, const protocol::Signal& signal,
                       std::int64_t now_ms) {
  ++m_counters.signals;
  correlate::SignalInput input;
  input.agent_id = agent_id;
  if (const AgentView* view = m_fleet.find(agent_id); view != nullptr) {
    input.host = view->host;
    input.agent_labels = view->labels;
  }
  if (input.host.empty()) {
    input.host = agent_id;
  }
  input.signal = signal;
  input.received_ms = now_ms;
  const auto events = m_correlator.on_signal(input, now_ms);
  if (!events.empty()) { // the first event is about the incident the signal folded into
    auto& kept = m_work[events.front().incident.id].signals;
    kept.push_back(signal);
    while (kept.size() > k_signals_kept) {
      kept.pop_front();
    }
  }
  for (const auto& event : events) {
    on_incident_event(event, now_ms);
  }
}

void Engine::on_incident_event(const correlate::IncidentEvent& event, std::int64_t now_ms) {
  using correlate::EventKind;
  const correlate::Incident& incident = event.incident;
  if (event.kind != EventKind::folded) { // repeats are counted on the incident, not audited
    audit(incident.id, now_ms, "coordinator", std::string(correlate::to_string(event.kind)),
          event.detail);
  }
  switch (event.kind) {
  case EventKind::opened:
  case EventKind::reopened:
  case EventKind::fleet_opened:
    ++m_counters.incidents_opened;
    m_learner.effectiveness().incident_opened(incident.first_seen_ms, now_ms);
    m_learner.pattern_seen(incident.fingerprint, incident.rule, now_ms);
    if (incident.kind == correlate::IncidentKind::host) {
      m_fleet.incident_opened(incident.agent_id, now_ms);
    }
    { // a reopening starts a new round: attempts, escalation and the verdict start over
      Work& work = m_work[incident.id];
      schedule(incident.id, work, 0);
      const bool false_positive = work.false_positive;
      const std::string in_flight = work.in_flight;
      auto signals =
          std::move(work.signals); // holds the one that opened it: context for escalation
      work = Work{};
      work.false_positive = false_positive;
      work.in_flight = in_flight;
      work.signals = std::move(signals);
    }
    diagnose_incident(incident, now_ms);
    maybe_escalate(incident, now_ms);
    if (incident.kind == correlate::IncidentKind::host) {
      if (m_config.settle.count() == 0) {
        plan_recovery(incident, now_ms);
      } else {
        schedule(incident.id, m_work[incident.id], now_ms + m_config.settle.count());
      }
    }
    break;
  case EventKind::severity_raised:
  case EventKind::flapping: maybe_escalate(incident, now_ms); break;
  case EventKind::linked:
    // Freed from its root (dependency resolved): it may need healing of its own now.
    if (incident.state == correlate::IncidentState::open && !m_correlator.inhibited(incident) &&
        m_work[incident.id].attempts == 0 && m_work[incident.id].retry_at_ms == 0) {
      plan_recovery(incident, now_ms);
    }
    break;
  case EventKind::resolved: on_resolved(incident, now_ms); break;
  case EventKind::fleet_member:
    // The fleet incident's host count moved too.
    if (const auto* fleet = m_correlator.find(incident.root_id); fleet != nullptr) {
      save(*fleet);
    }
    break;
  default: break;
  }
  save(incident);
}

void Engine::diagnose_incident(const correlate::Incident& incident, std::int64_t now_ms) {
  Work& work = m_work[incident.id];
  const auto input = m_fleet.diagnosis_input(incident, now_ms);
  work.diagnosis = diagnose::diagnose(m_rules, input);
  ++m_counters.diagnoses;
  const diagnose::Diagnosis& d = *work.diagnosis;
  if (d.rule_id == diagnose::k_needs_review) {
    ++m_counters.needs_review;
  }
  audit(incident.id, now_ms, "coordinator", "diagnosed",
        "rule '" + d.rule_id + "' diagnosed " + d.root_cause + " (confidence " +
            std::to_string(static_cast<int>(d.confidence * 100)) + "%, automation " +
            std::string(diagnose::to_string(d.automation)) + "): " + d.explanation,
        {{"rule", d.rule_id},
         {"root_cause", d.root_cause},
         {"probable_causes", d.probable_causes},
         {"confidence", d.confidence},
         {"automation", diagnose::to_string(d.automation)},
         {"candidates", candidates_json(d)}});
}

void Engine::maybe_escalate(const correlate::Incident& incident, std::int64_t now_ms) {
  Work& work = m_work[incident.id];
  if (work.escalated || incident.state != correlate::IncidentState::open) {
    return;
  }
  if (const auto* window = quiet_window(incident, work, now_ms);
      window != nullptr && !window->notify) {
    m_maintenance_held.insert(incident.id);
    if (!work.escalation_held) {
      work.escalation_held = true;
      audit(incident.id, now_ms, "coordinator", "held",
            "not escalated: maintenance window " + window->id +
                " is in force (it does not notify); reconsidered when it ends");
    }
    return;
  }
  auto facts = escalate::facts_of(incident);
  facts.failed_attempts = work.failed;
  if (work.gave_up) { // nothing left to try, or the agent's budget is spent
    facts.failed_attempts = std::max(facts.failed_attempts,
                                     std::max(m_config.escalation.rules.max_failed_attempts, 1U));
  }
  facts.approval_timed_out = work.approval_timed_out;
  facts.needs_review = work.diagnosis && work.diagnosis->rule_id == diagnose::k_needs_review;
  const auto decision = escalate::decide_escalation(m_config.escalation.rules, facts);
  if (!decision) {
    return;
  }
  if (silence_holds(incident, now_ms)) { // engine_silences.cpp: remediation goes on
    return;
  }
  work.escalated = true;
  ++m_counters.escalations;
  m_learner.effectiveness().escalated();
  // The full context for webhooks: what was seen, what was concluded, what was tried.
  const std::vector<protocol::Signal> signals(work.signals.begin(), work.signals.end());
  const std::vector<protocol::CommandResult> results(work.results.begin(), work.results.end());
  std::vector<protocol::LogEvent> log_lines;
  std::vector<protocol::Evidence> evidence;
  if (const AgentView* view = m_fleet.find(incident.agent_id); view != nullptr) {
    log_lines.assign(view->log_lines.begin(), view->log_lines.end());
    for (const auto& e : view->evidence) {
      if (e.fingerprint == incident.fingerprint) {
        evidence.push_back(e);
      }
    }
  }
  escalate::IncidentContextParts parts;
  parts.incident = &incident;
  parts.diagnosis = work.diagnosis ? &*work.diagnosis : nullptr;
  parts.signals = signals;
  parts.log_lines = log_lines;
  parts.evidence = evidence;
  parts.actions = results;
  parts.reason = decision->why;
  nlohmann::json context = escalate::incident_context(parts);
  const diagnose::Diagnosis* diagnosis = work.diagnosis ? &*work.diagnosis : nullptr;
  if (m_escalator && m_escalator->has_sinks()) {
    m_escalator->escalate(
        escalate::make_notification(incident, diagnosis, *decision, std::move(context)));
  }
  audit(incident.id, now_ms, "coordinator", "escalated",
        "escalated (" + std::string(escalate::to_string(decision->reason)) + "): " + decision->why +
            (m_escalator && m_escalator->has_sinks() ? "" : " — no escalation sink is configured"));
  save(incident);
}

void Engine::on_resolved(const correlate::Incident& incident, std::int64_t now_ms) {
  auto it = m_work.find(incident.id);
  if (it == m_work.end()) {
    m_learner.effectiveness().incident_resolved(incident.first_seen_ms, now_ms,
                                                learn::Resolution::other);
    return;
  }
  Work& work = it->second;
  m_learner.effectiveness().incident_resolved(
      incident.first_seen_ms, now_ms,
      work.auto_recovered ? learn::Resolution::automatic : learn::Resolution::other);
  if (work.escalated && m_escalator && m_escalator->has_sinks()) {
    escalate::EscalationDecision resolved{escalate::EscalationReason::critical_severity,
                                          "the incident resolved"};
    auto notification = escalate::make_notification(
        incident, work.diagnosis ? &*work.diagnosis : nullptr, resolved, {});
    notification.ends_at_ms = now_ms;
    m_escalator->resolve(std::move(notification));
  }
  if (work.approval_id != 0) {
    (void)m_planner.deny(work.approval_id, "coordinator", now_ms);
    audit(incident.id, now_ms, "coordinator", "expired",
          "approval " + std::to_string(work.approval_id) +
              " withdrawn: the incident resolved before anyone approved it");
    work.approval_id = 0;
  }
}

void Engine::audit(correlate::IncidentId id, std::int64_t now_ms, std::string actor,
                   std::string kind, std::string text, nlohmann::json detail) {
  m_writes.audit({0, id, now_ms, std::move(actor), std::move(kind), std::move(text),
                  detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
}

void Engine::save(const correlate::Incident& incident) {
  storage::IncidentRecord record;
  record.incident = incident;
  if (const auto it = m_work.find(incident.id); it != m_work.end()) {
    record.diagnosis_json = diagnosis_json(it->second);
    record.false_positive = it->second.false_positive;
    record.escalated = it->second.escalated;
  }
  m_writes.incident(record);
}

} // namespace medic::coordinator::engine
