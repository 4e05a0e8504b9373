// SPDX-License-Identifier: Apache-2.0
#include "agent/act/runner.hpp"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "agent/act/kind_common.hpp"
#include "agent/act/kind_http.hpp"
#include "agent/act/kind_signal.hpp"
#include "agent/act/spawn.hpp"

extern char** environ; // NOLINT: POSIX

namespace medic::agent::act {

std::string_view to_string(RunStatus status) noexcept {
  switch (status) {
  case RunStatus::succeeded: return "succeeded";
  case RunStatus::failed: return "failed";
  case RunStatus::timed_out: return "timed_out";
  case RunStatus::refused: return "refused";
  case RunStatus::dry_run: return "dry_run";
  }
  return "unknown";
}

namespace {

std::string signal_text(int signal) {
  const char* name = ::sigabbrev_np(signal);
  return std::to_string(signal) + (name != nullptr ? " (SIG" + std::string(name) + ")" : "");
}

} // namespace

// One run at a time: preparation in the threadpool, then the next step on the loop. States:
// idle -> preparing (work queued) -> executing (child, HTTP call) -> idle. After stop() the
// Done was already called; whatever is still in flight ends quietly.
class RunSlot {
public:
  RunSlot(uv_loop_t& loop, const Clock& clock, const RunnerSettings& settings,
          const std::vector<std::string>& environment, std::function<void()> on_free)
      : m_loop(loop),
        m_clock(clock),
        m_settings(settings),
        m_environment(environment),
        m_on_free(std::move(on_free)),
        m_child(loop, settings.max_output),
        m_http(loop, settings.max_output) {
    m_work.data = this;
  }

  [[nodiscard]] bool idle() const noexcept { return m_state == State::idle; }

  void start(Action action, BoundParams params, ActionRunner::Done done) {
    m_state = State::preparing;
    m_stopped = false;
    m_action = std::move(action);
    m_params = std::move(params);
    m_done = std::move(done);
    m_outcome = RunOutcome{};
    m_outcome.started_ms = m_clock.now_unix_ms();
    m_ctx.dry_run = m_settings.dry_run;
    m_ctx.proc_root = m_settings.proc_root;
    m_ctx.systemd_marker = m_settings.systemd_marker;
    m_ctx.environment = &m_environment;
    m_ctx.self = ::getpid();
    m_ctx.now_unix_ms = m_outcome.started_ms;
    m_ctx.max_output = m_settings.max_output;
    const int rc = uv_queue_work(&m_loop, &m_work, &on_work, &on_work_done);
    if (rc != 0) {
      m_prepared = Prepared::finished(
          RunStatus::failed, {}, std::string("cannot queue the preparation: ") + uv_strerror(rc));
      complete();
    }
  }

  // Runner closing: Done now with "agent stopping"; the child gets SIGKILL, the call ends, a
  // queued preparation is cancelled (a running one finishes and is dropped).
  void stop() noexcept {
    if (m_state == State::idle || m_stopped) {
      return;
    }
    m_stopped = true;
    RunOutcome outcome;
    outcome.started_ms = m_outcome.started_ms;
    outcome.status = RunStatus::failed;
    outcome.reason = "agent stopping";
    if (m_state == State::executing) {
      outcome.plan = m_prepared.plan;
    }
    deliver(outcome);
    if (m_state == State::preparing) {
      uv_cancel(reinterpret_cast<uv_req_t*>(&m_work));
    } else {
      m_child.kill();
      m_http.stop();
    }
  }

  void close() noexcept {
    m_child.close();
    m_http.close();
  }

private:
  enum class State : std::uint8_t { idle, preparing, executing };

  // Threadpool: only m_action, m_params and m_ctx are read, and the loop leaves them alone
  // until on_work_done.
  static void on_work(uv_work_t* work) noexcept {
    auto* self = static_cast<RunSlot*>(work->data);
    self->m_prepared = prepare_run(self->m_action, self->m_params, self->m_ctx);
  }

  static void on_work_done(uv_work_t* work, int status) noexcept {
    auto* self = static_cast<RunSlot*>(work->data);
    if (self->m_stopped) {
      self->release();
      return;
    }
    if (status != 0) {
      self->m_prepared = Prepared::finished(RunStatus::failed, {}, "preparation cancelled");
    }
    self->execute();
  }

  void execute() noexcept {
    m_outcome.plan = m_prepared.plan;
    m_outcome.output = std::move(m_prepared.output);
    m_outcome.output_dropped = m_prepared.output_dropped;
    switch (m_prepared.next) {
    case NextStep::done:
      m_outcome.status = m_prepared.status;
      m_outcome.reason = m_prepared.reason;
      complete();
      break;
    case NextStep::signal: finish_signals(); break;
    case NextStep::spawn:
      m_state = State::executing;
      m_child.start(m_prepared.spawn, {m_action.timeout, m_settings.kill_grace},
                    [this](ChildResult&& result) { on_child(std::move(result)); });
      break;
    case NextStep::http:
      m_state = State::executing;
      m_http.start(m_prepared.http, m_action.timeout,
                   [this](HttpResult&& result) { on_http(std::move(result)); });
      break;
    }
  }

  void finish_signals() noexcept {
    const SignalResult sent = send_signals(m_prepared);
    if (!sent.signalled.empty()) {
      m_outcome.status = RunStatus::succeeded;
      m_outcome.plan = m_prepared.plan + "; signalled " + pid_list(sent.signalled);
    } else {
      m_outcome.status = RunStatus::failed;
      m_outcome.reason = "no process was signalled";
    }
    if (!sent.gone.empty()) {
      m_outcome.plan += "; already gone: " + pid_list(sent.gone);
    }
    if (!sent.errors.empty()) {
      m_outcome.reason += (m_outcome.reason.empty() ? "" : ": ") + sent.errors;
    }
    complete();
  }

  void on_child(ChildResult&& result) noexcept {
    if (m_stopped) {
      release();
      return;
    }
    m_outcome.exit_code = result.exit_code;
    m_outcome.term_signal = result.term_signal;
    m_outcome.output += result.output;
    m_outcome.output_dropped += result.output_dropped;
    switch (result.ending) {
    case ChildEnding::exited:
      if (result.exit_code == 0 && result.term_signal == 0) {
        m_outcome.status = RunStatus::succeeded;
      } else {
        m_outcome.status = RunStatus::failed;
        m_outcome.reason = result.term_signal != 0
                               ? "killed by signal " + signal_text(result.term_signal)
                               : "exited with code " + std::to_string(result.exit_code);
      }
      break;
    case ChildEnding::timed_out:
    case ChildEnding::abandoned:
      m_outcome.status = RunStatus::timed_out;
      m_outcome.reason = "timed out after " + std::to_string(m_action.timeout.count()) +
                         " ms: process group " + std::to_string(result.pid) + " terminated";
      if (result.ending == ChildEnding::abandoned) {
        m_outcome.reason += ", but the leader was not reaped after SIGKILL (abandoned)";
      }
      break;
    case ChildEnding::spawn_failed:
    case ChildEnding::stopped:
      m_outcome.status = RunStatus::failed;
      m_outcome.reason = result.reason.empty() ? "agent stopping" : result.reason;
      break;
    }
    complete();
  }

  void on_http(HttpResult&& result) noexcept {
    if (m_stopped) {
      release();
      return;
    }
    m_outcome.output = std::move(result.output);
    m_outcome.output_dropped = result.output_dropped;
    const int expected = m_prepared.http.expected_status;
    const bool good =
        expected != 0 ? result.status == expected : result.status >= 200 && result.status < 300;
    if (result.ending == HttpEnding::answered) {
      m_outcome.status = good ? RunStatus::succeeded : RunStatus::failed;
      if (!good) {
        m_outcome.reason = "HTTP status " + std::to_string(result.status) + " (expected " +
                           (expected != 0 ? std::to_string(expected) : std::string("2xx")) + ")";
      }
    } else {
      m_outcome.status =
          result.ending == HttpEnding::timed_out ? RunStatus::timed_out : RunStatus::failed;
      m_outcome.reason = m_prepared.http.url + ": " + result.reason;
    }
    complete();
  }

  void complete() noexcept {
    m_outcome.finished_ms = m_clock.now_unix_ms();
    const RunOutcome outcome = std::move(m_outcome);
    deliver(outcome);
    release();
  }

  void deliver(const RunOutcome& outcome) noexcept {
    ActionRunner::Done done = std::move(m_done);
    m_done = nullptr;
    if (!done) {
      return;
    }
    try {
      done(outcome);
    } catch (const std::exception& e) {
      spdlog::error("action runner: the completion of '{}' threw: {}", m_action.name, e.what());
    } catch (...) {
      spdlog::error("action runner: the completion of '{}' threw", m_action.name);
    }
  }

  // Back to idle; the runner then hands over the next queued run.
  void release() noexcept {
    m_state = State::idle;
    m_prepared = Prepared();
    m_params = BoundParams();
    m_action = Action();
    m_on_free();
  }

  uv_loop_t& m_loop;
  const Clock& m_clock;
  const RunnerSettings& m_settings;
  const std::vector<std::string>& m_environment;
  std::function<void()> m_on_free;
  State m_state = State::idle;
  bool m_stopped = false;
  Action m_action; // a copy: the catalog may be replaced while the run is in flight
  BoundParams m_params;
  ActionRunner::Done m_done;
  PrepareContext m_ctx;
  Prepared m_prepared;
  RunOutcome m_outcome;
  uv_work_t m_work{};
  ChildRun m_child;
  HttpCall m_http;
};

ActionRunner::ActionRunner(uv_loop_t& loop, const Clock& clock, RunnerSettings settings)
    : m_loop(loop), m_clock(clock), m_settings(std::move(settings)) {
  m_settings.max_concurrent = std::max<std::size_t>(m_settings.max_concurrent, 1);
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    m_environment.emplace_back(*entry);
  }
  m_slots.reserve(m_settings.max_concurrent);
  for (std::size_t i = 0; i < m_settings.max_concurrent; ++i) {
    m_slots.push_back(std::make_unique<RunSlot>(m_loop, m_clock, m_settings, m_environment,
                                                [this] { on_slot_free(); }));
  }
}

ActionRunner::~ActionRunner() = default;

Result<void> ActionRunner::run(const Action& action, BoundParams params, Done done) {
  if (m_closed) {
    return fail(ErrorCode::busy, "action runner: stopped");
  }
  const bool slot_free =
      std::any_of(m_slots.begin(), m_slots.end(), [](const auto& slot) { return slot->idle(); });
  if ((!slot_free || !m_queue.empty()) && m_queue.size() >= m_settings.max_queued) {
    return fail(ErrorCode::busy, "action runner: " + std::to_string(running()) + " running and " +
                                     std::to_string(m_queue.size()) +
                                     " queued: the queue is full, '" + action.name + "' not run");
  }
  m_queue.push_back({action, std::move(params), std::move(done)});
  pump();
  return {};
}

std::size_t ActionRunner::running() const noexcept {
  return static_cast<std::size_t>(std::count_if(m_slots.begin(), m_slots.end(),
                                                [](const auto& slot) { return !slot->idle(); }));
}

std::size_t ActionRunner::queued() const noexcept {
  return m_queue.size();
}

void ActionRunner::pump() noexcept {
  if (m_pumping) {
    return; // a Done that calls run() inside pump(): the outer loop picks it up
  }
  m_pumping = true;
  // Repeats until nothing moves: a start that ends at once frees its slot again.
  for (bool moved = true; moved && !m_closed && !m_queue.empty();) {
    moved = false;
    for (auto& slot : m_slots) {
      if (!slot->idle() || m_closed || m_queue.empty()) {
        continue;
      }
      Queued next = std::move(m_queue.front());
      m_queue.pop_front();
      slot->start(std::move(next.action), std::move(next.params), std::move(next.done));
      moved = true;
    }
  }
  m_pumping = false;
}

void ActionRunner::on_slot_free() noexcept {
  if (!m_closed) {
    pump();
  }
}

void ActionRunner::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  std::deque<Queued> queued;
  queued.swap(m_queue);
  const std::int64_t now = m_clock.now_unix_ms();
  for (Queued& run : queued) {
    RunOutcome outcome;
    outcome.reason = "agent stopping";
    outcome.started_ms = outcome.finished_ms = now;
    try {
      run.done(outcome);
    } catch (...) {
      spdlog::error("action runner: the completion of '{}' threw", run.action.name);
    }
  }
  for (auto& slot : m_slots) {
    slot->stop();
    slot->close();
  }
}

} // namespace medic::agent::act
