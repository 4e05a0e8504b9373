// SPDX-License-Identifier: Apache-2.0
// Acting: COMMAND handling, the run → post-condition → rollback → report path of every job.
#include "agent/loop/acting.hpp"

#include <spdlog/spdlog.h>

#include "agent/act/params.hpp"
#include "agent/heal/audit_log.hpp"
#include "shared/uv/handle.hpp"

namespace medic::agent::loop {

namespace {

constexpr std::uint64_t k_check_every_ms = 200;
constexpr std::size_t k_max_cooldowns = 1024; // keys held in memory and in the spool

protocol::ResultStatus status_of(act::RunStatus status) noexcept {
  switch (status) {
  case act::RunStatus::succeeded: return protocol::ResultStatus::succeeded;
  case act::RunStatus::failed: return protocol::ResultStatus::failed;
  case act::RunStatus::timed_out: return protocol::ResultStatus::timed_out;
  case act::RunStatus::refused: return protocol::ResultStatus::rejected;
  case act::RunStatus::dry_run: return protocol::ResultStatus::dry_run;
  }
  return protocol::ResultStatus::failed;
}

std::vector<protocol::Label> labels_of(const act::BoundParams& params) {
  std::vector<protocol::Label> labels;
  labels.reserve(params.values.size());
  for (const auto& [name, value] : params.values) {
    labels.push_back({name, value});
  }
  return labels;
}

heal::AuditRecord audit_of(const protocol::CommandResult& result) {
  heal::AuditRecord record;
  record.time_ms = result.finished_ms != 0 ? result.finished_ms : result.started_ms;
  record.origin = result.origin;
  record.command_id = result.command_id;
  record.rule = result.rule;
  record.action = result.action;
  record.params = result.params;
  record.target = result.target;
  record.status = std::string(to_string(result.status));
  record.exit_code = result.exit_code;
  record.duration_ms = result.finished_ms - result.started_ms;
  record.reason = result.reason;
  if (!result.post_check.empty()) {
    record.reason += " [post-condition " + result.post_check + "]";
  }
  if (!result.rollback.empty()) {
    record.reason += " [rollback " + result.rollback + ": " + result.rollback_status + "]";
  }
  record.output = result.output;
  return record;
}

} // namespace

Acting::Acting(uv_loop_t& loop, const Clock& clock, const act::Catalog& catalog,
               ActingSettings settings, ActingHooks hooks, ActingState state)
    : m_loop(loop),
      m_clock(clock),
      m_catalog(catalog),
      m_settings(std::move(settings)),
      m_hooks(std::move(hooks)),
      m_runner(loop, clock, m_settings.runner),
      m_healer(m_settings.heal, m_settings.seed),
      m_cooldowns(k_max_cooldowns) {
  m_ledger.restore(std::move(state.commands));
  m_healer.budget().restore(state.budget, clock.now_unix_ms());
  m_cooldowns.restore(state.cooldowns, clock.now_unix_ms());
  if (state.policy && m_healer.maintenance().accept(std::move(*state.policy))) {
    spdlog::info("maintenance policy from the spool: {}", m_healer.maintenance().summary());
  }
  m_healer.set_cooldown_gate(
      [this](const std::string& action, const std::vector<protocol::Label>& params,
             std::int64_t now_ms) { return cooldown_until(action, params, now_ms); });
  for (const auto& action : catalog.actions()) {
    if (action.post_condition) {
      m_health.follow(*action.post_condition);
    }
  }
  m_disconnected_since_ms = clock.now_unix_ms();
}

Acting::~Acting() = default;

Result<void> Acting::start() {
  uv_timer_init(&m_loop, &m_check_timer);
  m_check_timer.data = this;
  return {};
}

Result<ActingState> Acting::load_state(sqlite::Database& db, std::int64_t now_ms) {
  if (auto made = CommandLedger::create_table(db); !made) {
    return fail(std::move(made).error());
  }
  if (auto made = heal::AuditLog::create_tables(db); !made) {
    return fail(std::move(made).error());
  }
  ActingState state;
  auto commands = CommandLedger::load(db, now_ms);
  if (!commands) {
    return fail(std::move(commands).error().context("reading remembered commands"));
  }
  state.commands = std::move(*commands);
  auto budget = heal::AuditLog::load_budget(db);
  if (!budget) {
    return fail(std::move(budget).error().context("reading the heal budget"));
  }
  state.budget = std::move(*budget);
  auto cooldowns = heal::AuditLog::load_cooldowns(db, now_ms);
  if (!cooldowns) {
    return fail(std::move(cooldowns).error().context("reading the action cooldowns"));
  }
  state.cooldowns = std::move(*cooldowns);
  if (auto made = heal::Maintenance::create_table(db); !made) {
    return fail(std::move(made).error());
  }
  auto policy = heal::Maintenance::load(db);
  if (!policy) {
    return fail(std::move(policy).error().context("reading the maintenance policy"));
  }
  state.policy = std::move(*policy);
  return state;
}

std::int64_t Acting::cooldown_until(const std::string& action,
                                    const std::vector<protocol::Label>& params,
                                    std::int64_t now_ms) const {
  const act::Action* found = m_catalog.find(action);
  if (found == nullptr || found->cooldown.count() <= 0) {
    return 0;
  }
  auto bound = act::bind_params(*found, params);
  if (!bound) {
    return 0; // run_decision reports why it cannot run
  }
  return m_cooldowns.until(*found, *bound, now_ms).value_or(0);
}

void Acting::on_command(const protocol::Command& command) {
  const std::int64_t now = m_clock.now_unix_ms();
  switch (m_ledger.check(command, now)) {
  case LedgerVerdict::duplicate:
    // The first outcome again; nothing while the first run still goes (its result follows).
    if (const auto* result = m_ledger.result_of(command.id)) {
      m_hooks.report(*result);
    }
    return;
  case LedgerVerdict::expired:
    reject_command(command, protocol::ResultStatus::expired, "arrived after its deadline");
    return;
  case LedgerVerdict::overloaded:
    reject_command(command, protocol::ResultStatus::rejected, "too many live commands");
    return;
  case LedgerVerdict::run: break;
  }
  m_hooks.persist([id = command.id, deadline = command.deadline_ms](sqlite::Database& db) {
    return CommandLedger::save_accepted(db, id, deadline);
  });
  const act::Action* action = m_catalog.find(command.action);
  if (action == nullptr) {
    reject_command(command, protocol::ResultStatus::rejected,
                   "action '" + command.action + "' is not in this agent's catalog");
    return;
  }
  auto params = act::bind_params(*action, command.params);
  if (!params) {
    reject_command(command, protocol::ResultStatus::rejected, params.error().message());
    return;
  }
  if (const auto until = m_cooldowns.until(*action, *params, now)) {
    // Recorded in the ledger like any outcome: the same id is answered the same way.
    reject_command(command, protocol::ResultStatus::rejected,
                   "not run: " + act::describe_cooldown(action->name, *until, now));
    return;
  }
  auto job = std::make_unique<Job>();
  job->origin = "coordinator";
  job->command_id = command.id;
  job->action = action;
  job->params = std::move(*params);
  start_job(std::move(job));
}

void Acting::reject_command(const protocol::Command& command, protocol::ResultStatus status,
                            std::string reason) {
  protocol::CommandResult result;
  result.command_id = command.id;
  result.origin = "coordinator";
  result.action = command.action;
  result.status = status;
  result.reason = std::move(reason);
  result.started_ms = result.finished_ms = m_clock.now_unix_ms();
  if (status != protocol::ResultStatus::expired && m_ledger.result_of(command.id) == nullptr) {
    m_ledger.finished(result);
    m_hooks.persist(
        [result](sqlite::Database& db) { return CommandLedger::save_result(db, result); });
  }
  spdlog::warn("command {} ({}) not run: {}", command.id, command.action, result.reason);
  report(std::move(result));
}

void Acting::start_job(std::unique_ptr<Job> job) {
  const std::uint64_t id = m_next_job++;
  job->id = id;
  protocol::CommandResult& result = job->result;
  result.command_id = job->command_id;
  result.origin = job->origin;
  result.action = job->action->name;
  result.rule = job->rule;
  result.target = job->target;
  result.params = labels_of(job->params);
  result.started_ms = m_clock.now_unix_ms();
  auto queued = m_runner.run(*job->action, job->params, [this, id](const act::RunOutcome& outcome) {
    on_run_done(id, outcome);
  });
  if (!queued) {
    result.status = protocol::ResultStatus::rejected;
    result.reason = "not started: " + queued.error().message();
    finish_job(std::move(job));
    return;
  }
  if (!job->temporary_undo) { // an undo must happen whatever the cooldown says
    if (auto entry = m_cooldowns.started(*job->action, job->params, result.started_ms)) {
      m_hooks.persist([entry = std::move(*entry), now = result.started_ms](sqlite::Database& db) {
        return heal::AuditLog::save_cooldown(db, entry, now, k_max_cooldowns);
      });
    }
  }
  m_running.emplace(id, std::move(job));
}

void Acting::on_run_done(std::uint64_t id, const act::RunOutcome& outcome) {
  auto found = m_running.find(id);
  if (found == m_running.end()) {
    return;
  }
  std::unique_ptr<Job> job = std::move(found->second);
  m_running.erase(found);
  protocol::CommandResult& result = job->result;
  if (!result.rollback.empty()) { // this was the rollback's run
    result.rollback_status = std::string(to_string(status_of(outcome.status)));
    finish_job(std::move(job));
    return;
  }
  result.status = status_of(outcome.status);
  result.exit_code = outcome.exit_code;
  if (outcome.started_ms != 0) {
    result.started_ms = outcome.started_ms;
  }
  result.finished_ms = outcome.finished_ms;
  result.output = outcome.output;
  result.reason = outcome.reason;
  result.plan = outcome.plan;
  const auto& post = job->action->post_condition;
  if (result.status != protocol::ResultStatus::succeeded || !post || m_closed) {
    finish_job(std::move(job));
    return;
  }
  job->check_until_ms = result.finished_ms + post->within.count();
  m_checking.push_back(std::move(job));
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&m_check_timer)) == 0) {
    uv_timer_start(
        &m_check_timer,
        [](uv_timer_t* timer) { static_cast<Acting*>(timer->data)->check_post_conditions(); },
        k_check_every_ms, k_check_every_ms);
  }
}

void Acting::check_post_conditions() {
  const std::int64_t now = m_clock.now_unix_ms();
  std::vector<std::unique_ptr<Job>> done;
  std::erase_if(m_checking, [&](std::unique_ptr<Job>& job) {
    const auto& post = *job->action->post_condition;
    if (m_health.healthy(post, job->result.started_ms, job->target)) {
      job->result.post_check = "passed";
    } else if (now >= job->check_until_ms) {
      job->result.post_check = "failed";
    } else {
      return false;
    }
    done.push_back(std::move(job));
    return true;
  });
  if (m_checking.empty()) {
    uv_timer_stop(&m_check_timer);
  }
  for (auto& job : done) {
    if (job->result.post_check == "passed") {
      finish_job(std::move(job));
      continue;
    }
    job->result.status = protocol::ResultStatus::failed;
    job->result.reason = "post-condition (" + job->action->post_condition->target +
                         ") not healthy within " +
                         std::to_string(job->action->post_condition->within.count()) + " ms";
    if (job->action->rollback.empty()) {
      finish_job(std::move(job));
    } else {
      start_rollback(std::move(job));
    }
  }
}

void Acting::start_rollback(std::unique_ptr<Job> job) {
  const act::Action* rollback = m_catalog.find(job->action->rollback);
  job->result.rollback = job->action->rollback;
  if (rollback == nullptr) {
    job->result.rollback_status = "rejected";
    finish_job(std::move(job));
    return;
  }
  // The rollback takes the parameters it declares from the failed action's.
  std::vector<protocol::Label> given;
  for (const auto& [name, value] : job->params.values) {
    for (const auto& spec : rollback->params) {
      if (spec.name == name) {
        given.push_back({name, value});
      }
    }
  }
  auto params = act::bind_params(*rollback, given);
  if (!params) {
    job->result.rollback_status = "rejected";
    finish_job(std::move(job));
    return;
  }
  const std::uint64_t id = m_next_job++;
  auto queued =
      m_runner.run(*rollback, std::move(*params),
                   [this, id](const act::RunOutcome& outcome) { on_run_done(id, outcome); });
  if (!queued) {
    job->result.rollback_status = "rejected";
    finish_job(std::move(job));
    return;
  }
  m_running.emplace(id, std::move(job));
}

void Acting::finish_job(std::unique_ptr<Job> job) {
  protocol::CommandResult& result = job->result;
  if (result.finished_ms == 0) {
    result.finished_ms = m_clock.now_unix_ms();
  }
  if (!job->command_id.empty()) {
    m_ledger.finished(result);
    m_hooks.persist(
        [result](sqlite::Database& db) { return CommandLedger::save_result(db, result); });
  }
  if (job->origin == "local" && !job->temporary_undo) {
    m_healer.on_action_done(job->target, job->action->name,
                            result.status == protocol::ResultStatus::succeeded,
                            m_clock.now_unix_ms());
    report_budget(job->target, job->action->name);
  }
  if (job->action->temporary && !job->temporary_undo &&
      result.status == protocol::ResultStatus::succeeded) {
    schedule_undo(*job);
  }
  spdlog::info("action {} ({}{}): {}{}", job->action->name, job->origin,
               job->command_id.empty() ? "" : " " + job->command_id, to_string(result.status),
               result.reason.empty() ? "" : ": " + result.reason);
  report(std::move(result));
}

void Acting::report(protocol::CommandResult result) {
  m_hooks.persist([record = audit_of(result)](sqlite::Database& db) -> Result<void> {
    auto appended = heal::AuditLog::append(db, record);
    if (!appended) {
      return fail(std::move(appended).error());
    }
    return heal::AuditLog::trim(db, 100'000).map([](std::uint64_t) {});
  });
  m_hooks.report(std::move(result));
}

void Acting::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  m_runner.close();
  if (m_check_timer.data != nullptr) {
    uv::close_handle(m_check_timer);
  }
}

} // namespace medic::agent::loop
