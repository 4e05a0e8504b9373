// SPDX-License-Identifier: Apache-2.0
// Acting's own initiative: fallback healing decisions (held back by the coordinator's POLICY),
// diagnostic hooks on firing signals, temporary actions undone after their time, and the
// remediation budget it reports.
#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

#include "agent/act/params.hpp"
#include "agent/heal/audit_log.hpp"
#include "agent/heal/label_template.hpp"
#include "agent/loop/acting.hpp"

namespace medic::agent::loop {

namespace {

protocol::Signal owned(const protocol::SignalView& view) {
  protocol::Signal signal;
  signal.rule = view.rule;
  signal.state = view.state;
  signal.severity = view.severity;
  signal.category = view.category;
  signal.fingerprint = view.fingerprint;
  signal.value = view.value;
  signal.time_ms = view.time_ms;
  for (const auto& label : view.labels) {
    signal.labels.push_back({std::string(label.name), std::string(label.value)});
  }
  signal.message = view.message;
  return signal;
}

protocol::ResultStatus evidence_status(act::RunStatus status) noexcept {
  switch (status) {
  case act::RunStatus::succeeded: return protocol::ResultStatus::succeeded;
  case act::RunStatus::timed_out: return protocol::ResultStatus::timed_out;
  case act::RunStatus::refused: return protocol::ResultStatus::rejected;
  case act::RunStatus::dry_run: return protocol::ResultStatus::dry_run;
  case act::RunStatus::failed: break;
  }
  return protocol::ResultStatus::failed;
}

} // namespace

heal::LinkState Acting::link_state() const noexcept {
  return heal::LinkState{m_connected, m_disconnected_since_ms};
}

void Acting::on_signal(const protocol::SignalView& view) {
  m_health.on_signal(view);
  if (m_closed) {
    return;
  }
  const protocol::Signal signal = owned(view);
  run_decisions(m_healer.on_signal(signal, link_state(), m_clock.now_unix_ms()));
  if (signal.state == protocol::SignalState::firing) {
    run_diagnostics(signal);
  }
}

void Acting::tick(bool coordinator_alive) {
  if (m_closed) {
    return;
  }
  const std::int64_t now = m_clock.now_unix_ms();
  if (coordinator_alive && !m_connected) {
    m_connected = true;
    m_healer.reconnected();
    // The coordinator continues from the agent's budget, not from zero.
    for (const auto& entry : m_healer.budget().entries()) {
      if (entry.attempts > 0 || entry.needs_person) {
        report_budget(entry.target, entry.action);
      }
    }
  } else if (!coordinator_alive && m_connected) {
    m_connected = false;
    m_disconnected_since_ms = now;
  }
  run_decisions(m_healer.tick(link_state(), now));
  run_due_undos();
}

void Acting::on_policy(const protocol::Policy& policy) {
  heal::Maintenance& maintenance = m_healer.maintenance();
  if (!maintenance.accept(policy)) {
    return; // the one held is as new (each HELLO brings it again) or newer
  }
  spdlog::info("maintenance policy kept: {}", maintenance.summary());
  m_hooks.persist([policy](sqlite::Database& db) { return heal::Maintenance::save(db, policy); });
}

void Acting::run_decisions(std::vector<heal::HealDecision> decisions) {
  for (auto& decision : decisions) {
    run_decision(std::move(decision));
  }
}

void Acting::run_decision(heal::HealDecision decision) {
  const std::int64_t now = m_clock.now_unix_ms();
  protocol::CommandResult note;
  note.origin = "local";
  note.rule = decision.rule_id;
  note.action = decision.action;
  note.target = decision.target;
  note.params = decision.params;
  note.reason = decision.reason;
  note.started_ms = note.finished_ms = now;
  switch (decision.kind) {
  case heal::HealDecision::Kind::run: break;
  case heal::HealDecision::Kind::needs_person:
  case heal::HealDecision::Kind::flapping:
    note.status = protocol::ResultStatus::needs_person;
    spdlog::warn("heal rule {} stopped on {}: {}", decision.rule_id, decision.target,
                 decision.reason);
    report(std::move(note));
    report_budget(decision.target, decision.action);
    return;
  case heal::HealDecision::Kind::held:
    // Reported to the coordinator like any local outcome; neither budget nor cooldown moves.
    note.status = protocol::ResultStatus::rejected;
    spdlog::info("heal rule {} on {} held back: {}", decision.rule_id, decision.target,
                 decision.reason);
    report(std::move(note));
    return;
  case heal::HealDecision::Kind::skipped: {
    heal::AuditRecord record;
    record.time_ms = now;
    record.origin = "local";
    record.rule = decision.rule_id;
    record.action = decision.action;
    record.params = decision.params;
    record.target = decision.target;
    record.status = "skipped";
    record.reason = decision.reason;
    m_hooks.persist([record](sqlite::Database& db) {
      return heal::AuditLog::append(db, record).map([](std::uint64_t) {});
    });
    return;
  }
  }
  const act::Action* action = m_catalog.find(decision.action);
  auto params =
      action != nullptr
          ? act::bind_params(*action, decision.params)
          : Result<act::BoundParams>(fail(ErrorCode::invalid_argument, "not in the catalog"));
  if (!params) {
    note.status = protocol::ResultStatus::rejected;
    note.reason = "action '" + decision.action + "': " + params.error().message();
    m_healer.on_action_done(decision.target, decision.action, false, now);
    report(std::move(note));
    return;
  }
  auto job = std::make_unique<Job>();
  job->origin = "local";
  job->rule = decision.rule_id;
  job->target = decision.target;
  job->action = action;
  job->params = std::move(*params);
  start_job(std::move(job));
}

void Acting::run_diagnostics(const protocol::Signal& signal) {
  for (const auto& hook : m_settings.diagnostics) {
    if (hook.on_rule != signal.rule) {
      continue;
    }
    std::vector<protocol::Label> given;
    bool complete = true;
    for (const auto& [name, templ] : hook.params) {
      auto value = heal::expand_label_template(templ, signal.labels);
      complete = complete && value.has_value();
      if (value) {
        given.push_back({name, std::move(*value)});
      }
    }
    for (const auto& name : hook.actions) {
      const act::Action* action = m_catalog.find(name);
      if (action == nullptr || !action->diagnostic || !complete) {
        continue; // checked at start-up; a missing label just means no evidence this time
      }
      std::vector<protocol::Label> own;
      for (const auto& label : given) {
        if (std::any_of(action->params.begin(), action->params.end(),
                        [&](const act::ParamSpec& spec) { return spec.name == label.name; })) {
          own.push_back(label);
        }
      }
      auto params = act::bind_params(*action, own);
      if (!params) {
        continue;
      }
      auto queued = m_runner.run(
          *action, std::move(*params),
          [this, fingerprint = signal.fingerprint, rule = signal.rule,
           action_name = name](const act::RunOutcome& outcome) {
            m_hooks.evidence(protocol::Evidence{fingerprint, rule, action_name, outcome.finished_ms,
                                                evidence_status(outcome.status), outcome.output});
          });
      if (!queued) {
        spdlog::warn("diagnostic {} for {} not run: {}", name, signal.rule,
                     queued.error().message());
      }
    }
  }
}

void Acting::schedule_undo(const Job& job) {
  const act::TemporarySpec& temporary = *job.action->temporary;
  const act::Action* undo = m_catalog.find(temporary.undo_action);
  if (undo == nullptr) {
    return;
  }
  const std::int64_t now = m_clock.now_unix_ms();
  std::string key = job.action->name;
  for (const auto& [name, value] : job.params.values) {
    key += '\0' + name + '=' + value;
  }
  auto& [count, last_ms] = m_repeats[key];
  count = (count > 0 && now - last_ms <= temporary.forget_after.count()) ? count + 1 : 1;
  last_ms = now;
  const double scaled = static_cast<double>(temporary.duration.count()) *
                        std::pow(temporary.factor, static_cast<double>(count - 1));
  const auto wait_ms = static_cast<std::int64_t>(
      std::min(scaled, static_cast<double>(temporary.max_duration.count())));
  std::vector<protocol::Label> given;
  for (const auto& [name, value] : job.params.values) {
    given.push_back({name, value});
  }
  auto params = act::bind_params(*undo, given);
  if (!params) {
    spdlog::warn("temporary action {}: its undo {} refuses the parameters: {}", job.action->name,
                 undo->name, params.error().message());
    return;
  }
  auto undo_job = std::make_unique<Job>();
  undo_job->origin = "local";
  undo_job->rule = "temporary:" + job.action->name;
  undo_job->target = job.target;
  undo_job->action = undo;
  undo_job->params = std::move(*params);
  undo_job->temporary_undo = true;
  m_undos.push_back(Undo{now + wait_ms, std::move(undo_job)});
}

void Acting::run_due_undos() {
  const std::int64_t now = m_clock.now_unix_ms();
  std::vector<std::unique_ptr<Job>> due;
  std::erase_if(m_undos, [&](Undo& undo) {
    if (undo.due_ms > now) {
      return false;
    }
    due.push_back(std::move(undo.job));
    return true;
  });
  for (auto& job : due) {
    start_job(std::move(job));
  }
}

void Acting::report_budget(const std::string& target, const std::string& action) {
  auto entries = m_healer.budget().entries();
  for (const auto& entry : entries) {
    if (entry.target == target && entry.action == action) {
      m_hooks.budget(protocol::BudgetReport{entry.target, entry.action, entry.window_attempts,
                                            entry.window_start_ms, entry.next_allowed_ms,
                                            entry.needs_person});
    }
  }
  m_hooks.persist([entries = std::move(entries)](sqlite::Database& db) {
    return heal::AuditLog::save_budget(db, entries);
  });
}

} // namespace medic::agent::loop
