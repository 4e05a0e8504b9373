// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/agent.hpp"

#include <spdlog/spdlog.h>

#include "agent/tail/cursor_store.hpp"
#include "shared/build_info.hpp"
#include "shared/uv/handle.hpp"

namespace medic::agent::loop {

namespace {

constexpr std::uint64_t k_tick_ms = 1000;
constexpr std::uint64_t k_footprint_every_ticks = 10;

link::BatchLimits batch_limits(const config::AgentConfig& config) {
  link::BatchLimits limits;
  limits.max_samples = config.max_batch;
  limits.sample_arena_bytes = std::max<std::size_t>(16 * 1024, config.max_batch * 48);
  return limits;
}

template <class Self, void (Self::*Method)()>
void on_timer(uv_timer_t* timer) noexcept {
  (static_cast<Self*>(timer->data)->*Method)();
}

} // namespace

Result<std::unique_ptr<Agent>> Agent::create(uv_loop_t& loop, const config::AgentConfig& config,
                                             link::Spool spool, link::LinkSettings settings,
                                             std::vector<tail::TailCursor> cursors,
                                             ActingState acting) {
  auto rules = detect::MetricRules::create(config.sensing.rules);
  if (!rules) {
    return fail(std::move(rules).error().context("rules"));
  }
  std::unique_ptr<Agent> agent(
      new Agent(loop, config, std::move(spool), std::move(settings), std::move(*rules)));
  LogOutput output;
  Agent* self = agent.get();
  output.signal = [self](const protocol::SignalView& signal) { self->add_signal(signal); };
  output.event = [self](const protocol::LogEventView& event) { self->add_log_event(event); };
  output.evidence = [self](protocol::Evidence evidence) {
    self->add_event_item(std::move(evidence), [](link::BatchBuilder& batch, protocol::Evidence e) {
      return batch.add_evidence(std::move(e));
    });
  };
  auto logs = LogPipeline::create(loop, config.sensing, agent->m_clock, std::move(output));
  if (!logs) {
    return fail(std::move(logs).error());
  }
  agent->m_logs = std::move(*logs);
  // The configuration is parsed and every pattern compiled: give back that code and memory now,
  // before the rest of start-up adds its own (the peak, VmHWM, is their sum otherwise).
  (void)release_startup_code();
  if (auto restored = agent->m_logs->restore(cursors); !restored) {
    return fail(std::move(restored).error().context("resuming log files"));
  }
  ActingSettings acting_settings;
  acting_settings.runner.max_concurrent = config.acting.max_concurrent;
  acting_settings.runner.max_queued = config.acting.max_queued;
  acting_settings.runner.kill_grace = config.acting.kill_grace;
  acting_settings.runner.dry_run = config.acting.heal.dry_run;
  acting_settings.runner.proc_root = config.proc_root;
  acting_settings.heal = config.acting.heal;
  acting_settings.diagnostics = config.acting.diagnostics;
  acting_settings.seed = static_cast<std::uint64_t>(agent->m_clock.now_unix_ms());
  agent->m_acting = std::make_unique<Acting>(loop, agent->m_clock, *config.acting.catalog,
                                             std::move(acting_settings), agent->acting_hooks(),
                                             std::move(acting));
  agent->m_link.on_commands(
      [self](const protocol::Command& command) { self->m_acting->on_command(command); });
  agent->m_link.on_policy(
      [self](const protocol::Policy& policy) { self->m_acting->on_policy(policy); });
  return agent;
}

Agent::Agent(uv_loop_t& loop, const config::AgentConfig& config, link::Spool spool,
             link::LinkSettings settings, detect::MetricRules rules)
    : m_loop(loop),
      m_config(config),
      m_sensors(config),
      m_rules(std::move(rules)),
      m_batch(batch_limits(config)),
      m_link(loop, m_zmq, m_clock, std::move(spool), std::move(settings)),
      m_footprint(config.proc_root),
      m_signals(
          loop, [this](int signum) { stop(signum); },
          [this] {
            if (m_service.reload) {
              m_service.reload();
            } else {
              spdlog::info("SIGHUP: nothing to reload here; the config is read at start");
            }
          }),
      m_signal_out([this](const protocol::SignalView& signal) { add_signal(signal); }) {}

Agent::~Agent() = default;

Result<void> Agent::start() {
  if (auto opened = m_sensors.open(m_loop); !opened) {
    return opened;
  }
  if (auto opened = m_footprint.open(); !opened) {
    return fail(std::move(opened).error().context("reading the agent's own footprint"));
  }
  if (auto linked = m_link.start(); !linked) {
    return linked;
  }
  if (auto acting = m_acting->start(); !acting) {
    return acting;
  }
  if (auto followed = m_logs->start(); !followed) {
    return fail(std::move(followed).error().context("logs.sources"));
  }
  for (uv_timer_t* timer : {&m_sample_timer, &m_flush_timer, &m_event_timer, &m_tick_timer}) {
    uv_timer_init(&m_loop, timer);
    timer->data = this;
  }
  const auto interval = static_cast<std::uint64_t>(m_config.interval.count());
  // Sample at once: the first CPU reading only primes the delta.
  uv_timer_start(&m_sample_timer, &on_timer<Agent, &Agent::sample_round>, 0, interval);
  // Also saves the log positions of lines that matched nothing, so a restart does not read them
  // again.
  // Due with the first sample round: with a 1 s interval both timers then fire in the same loop
  // turn every second (libuv re-arms a repeating timer from the turn's time), one wake-up, not
  // two a few milliseconds apart. The flush timer starts at the first tick, for the same reason
  // (started now, it would be out of step by however long the first turn takes).
  uv_timer_start(&m_tick_timer, &on_timer<Agent, &Agent::report_footprint>, 0, k_tick_ms);
  // Start-up (config parsing, pattern compilation) freed more than the steady state will use,
  // and ran code the steady state never runs again: give both back.
  const std::size_t released = release_startup_code();
  spdlog::debug("released the start-up pages of {} code mappings", released);
  spdlog::info(
      "medic-agent {} started: id {}, coordinator {}, every {} ms, {} metric rules, {} "
      "log rules, {} log sources",
      build_info::k_version, m_config.id, m_config.coordinator_endpoint, interval,
      m_rules.rule_count(), m_config.sensing.log_rules.size(),
      m_config.sensing.tail.sources.size());
  return {};
}

void Agent::add(std::string_view name, double value, std::int64_t time_ms,
                std::span<const protocol::LabelView> labels) noexcept {
  m_acting->observe(name, value, time_ms, labels);
  m_rules.observe(name, value, time_ms, m_clock.monotonic_ms(), labels, m_signal_out);
  if (!m_ship_round) {
    return;
  }
  if (!m_batch.add_sample(name, value, time_ms, labels)) {
    flush_samples();
    (void)m_batch.add_sample(name, value, time_ms, labels);
  }
}

void Agent::error(std::string_view source, const Error& error) noexcept {
  std::uint64_t suppressed = 0;
  if (m_error_log_limit.allow(m_clock.monotonic_ms(), suppressed)) {
    spdlog::warn("{} sampler: {}", source, error.message());
  }
}

void Agent::add_signal(const protocol::SignalView& signal) noexcept {
  spdlog::info("signal {} {} ({}, {}): {}", signal.rule, protocol::to_string(signal.state),
               protocol::to_string(signal.severity), protocol::to_string(signal.category),
               signal.message);
  if (!m_batch.add_signal(signal)) {
    flush_events(false);
    (void)m_batch.add_signal(signal);
  }
  events_waiting();
  m_acting->on_signal(signal);
}

template <class Item, class Add>
void Agent::add_event_item(Item item, Add add) {
  if (m_stopping) {
    return; // the audit trail in the spool still has it
  }
  if (!add(m_batch, item)) {
    flush_events(false);
    (void)add(m_batch, std::move(item));
  }
  events_waiting();
}

ActingHooks Agent::acting_hooks() {
  ActingHooks hooks;
  hooks.report = [this](protocol::CommandResult result) {
    add_event_item(std::move(result), [](link::BatchBuilder& batch, protocol::CommandResult r) {
      return batch.add_result(std::move(r));
    });
  };
  hooks.budget = [this](protocol::BudgetReport budget) {
    add_event_item(std::move(budget), [](link::BatchBuilder& batch, protocol::BudgetReport b) {
      return batch.add_budget(std::move(b));
    });
  };
  hooks.evidence = [this](protocol::Evidence evidence) {
    add_event_item(std::move(evidence), [](link::BatchBuilder& batch, protocol::Evidence e) {
      return batch.add_evidence(std::move(e));
    });
  };
  hooks.persist = [this](link::SpoolWrite write) {
    if (!m_link.save_state(std::move(write))) {
      spdlog::warn("spool busy: an audit record was not written");
    }
  };
  return hooks;
}

// A log event without a signal is not waited for by anyone: it rides with the samples, every
// flush_interval (one spool transaction for both), unless a signal, an action's report or
// evidence flushes the events part earlier, or it fills up.
void Agent::add_log_event(const protocol::LogEventView& event) noexcept {
  if (!m_batch.add_log(event)) {
    flush_events(false);
    (void)m_batch.add_log(event);
  }
}

// Signals (and what acting reports) leave within event_delay of the first one, so bursts share
// a batch.
void Agent::events_waiting() noexcept {
  if (m_stopping || uv_is_active(reinterpret_cast<uv_handle_t*>(&m_event_timer)) != 0) {
    return;
  }
  uv_timer_start(
      &m_event_timer,
      [](uv_timer_t* t) noexcept { static_cast<Agent*>(t->data)->flush_events(true); },
      static_cast<std::uint64_t>(m_config.event_delay.count()), 0);
}

void Agent::sample_round() noexcept {
  // A heartbeat or a flush due within half a round goes now, before sampling: one wake-up
  // for all three (their own timers, started at other moments and re-armed by libuv from
  // when each ran, drift apart by milliseconds a second), and the coordinator's echo and ack
  // come back while this round samples. Each heartbeat and flush re-arms its own one-shot
  // timer an interval and half a round ahead, so those fire only when the rounds stop or come
  // less often than they are due. The flush goes first, so that the acks waiting in the
  // delivery ride with its batch in one spool transaction; after it, the heartbeat's delivery
  // tick would commit them on their own when they have waited long enough.
  if (m_ticks > 0 && m_clock.monotonic_ms() - m_last_flush_ms + flush_slack_ms() >=
                         m_config.flush_interval.count()) {
    flush_all();
  }
  m_link.tick(m_config.interval.count() / 2);
  m_ship_round = m_round % m_config.sensing.ship_every == 0;
  ++m_round;
  m_sensors.sample(*this, m_clock.now_unix_ms());
}

void Agent::release_run_once() noexcept {
  // Whatever the steady state runs comes back at its next call.
  (void)release_startup_code(m_release.scope(m_ticks));
  m_release.released(m_ticks);
}

void Agent::report_footprint() noexcept {
  if (m_ticks == 0) {
    m_last_flush_ms = m_clock.monotonic_ms();
    start_flush_timer();
  }
  m_logs->tick();
  m_acting->tick(m_link.coordinator_alive());
  if (m_release.scheduled(++m_ticks)) {
    // The first turns after start-up still ran code that runs once: the coordinator handshake,
    // each log file's opening and probing, SQLite preparing its statements, the first signals.
    release_run_once();
  }
  if (m_ticks % k_footprint_every_ticks != 0) {
    return;
  }
  auto reading = m_footprint.read();
  if (!reading) {
    error("footprint", reading.error());
    return;
  }
  if (m_release.regrown(m_ticks, reading->rss_bytes)) {
    release_run_once(); // the samples below still show the growth; the next reading, the drop
  }
  const std::int64_t now_ms = m_clock.now_unix_ms();
  const auto& spool = m_link.delivery().spool_stats();
  const auto put = [&](std::string_view name, double value) { add(name, value, now_ms, {}); };
  const bool ship = m_ship_round;
  m_ship_round = true; // the footprint always ships, whatever sample.ship_every says
  put("agent.rss_bytes", static_cast<double>(reading->rss_bytes));
  put("agent.peak_rss_bytes", static_cast<double>(reading->peak_rss_bytes));
  put("agent.cpu_seconds", reading->cpu_seconds);
  put("agent.spool_bytes", static_cast<double>(spool.bytes));
  put("agent.spool_batches", static_cast<double>(spool.batches));
  put("agent.dropped_items", static_cast<double>(spool.dropped_items));
  put("agent.watched_series", static_cast<double>(m_rules.series_count()));
  if (const auto* tail = m_logs->tail_stats()) {
    put("agent.log_lines", static_cast<double>(tail->lines));
    put("agent.log_gaps", static_cast<double>(tail->gaps));
    put("agent.log_files", static_cast<double>(tail->files_open));
  }
  put("agent.log_events_suppressed", static_cast<double>(m_logs->counters().events_suppressed));
  m_ship_round = ship;
}

std::int64_t Agent::flush_slack_ms() const noexcept {
  // Only when rounds come at least as often as flushes are due.
  const auto interval = m_config.interval.count();
  return m_config.flush_interval.count() >= interval ? interval / 2 : 0;
}

void Agent::start_flush_timer() noexcept {
  // With rounds, it fires only if they stop: the next round may come a little later than a
  // flush_interval from now, so it gets slack.
  const auto flush = m_config.flush_interval.count() + flush_slack_ms();
  uv_timer_start(
      &m_flush_timer, [](uv_timer_t* t) noexcept { static_cast<Agent*>(t->data)->flush_all(); },
      static_cast<std::uint64_t>(flush), 0);
}

void Agent::flush_all() noexcept {
  m_last_flush_ms = m_clock.monotonic_ms();
  start_flush_timer();
  flush_samples();
  flush_events(true);
}

void Agent::flush_samples() noexcept {
  if (m_batch.samples_empty()) {
    return;
  }
  m_link.send_batch(m_batch.samples_batch());
  m_batch.clear_samples();
}

void Agent::flush_events(bool with_cursors) noexcept {
  link::SpoolWrite also;
  if (with_cursors) {
    if (auto cursors = m_logs->cursors_if_moved()) {
      also = [saved = std::move(*cursors)](sqlite::Database& db) {
        return tail::cursor_store::save(db, saved);
      };
    }
  }
  bool saving = static_cast<bool>(also);
  if (!m_batch.events_empty()) {
    m_link.send_batch(m_batch.events_batch(), std::move(also));
    m_batch.clear_events();
  } else if (saving && !m_link.save_state(std::move(also))) {
    spdlog::warn("spool busy: log positions will be saved with the next batch");
    saving = false;
  }
  if (saving) {
    m_logs->cursors_saved(); // else the next flush hands the same positions out again
  }
  m_logs->new_flush_window();
}

void Agent::stop(int signum) noexcept {
  if (m_stopping) {
    return;
  }
  m_stopping = true;
  if (m_service.stopping) {
    m_service.stopping();
  }
  const auto& delivery = m_link.delivery().counters();
  spdlog::info("signal {}: stopping ({} batches spooled, {} sent, {} acked, {} held)", signum,
               delivery.submitted, delivery.sent, delivery.acked,
               m_link.delivery().spool_stats().batches);
  m_logs->stop();
  m_acting->close();
  flush_samples();
  flush_events(true);
  m_sensors.close();
  for (uv_timer_t* timer : {&m_sample_timer, &m_flush_timer, &m_event_timer, &m_tick_timer}) {
    uv::close_handle(*timer);
  }
  m_signals.close();
  m_link.close();
}

} // namespace medic::agent::loop
