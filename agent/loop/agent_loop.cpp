// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/agent_loop.hpp"

#include <uv.h>

#include <algorithm>
#include <cstdio>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "agent/link/coordinator_link.hpp"
#include "agent/link/sample_buffer.hpp"
#include "agent/sample/cpu_sampler.hpp"
#include "agent/sample/memory_sampler.hpp"
#include "shared/build_info.hpp"
#include "shared/clock.hpp"
#include "shared/security/curve_keys.hpp"
#include "shared/uv/handle.hpp"
#include "shared/uv/signal_watch.hpp"

namespace medic::agent::loop {

namespace {

// Everything the loop owns. Handles are members, so the object outlives their close callbacks
// (close_loop runs them before this goes out of scope).
class Agent {
public:
  Agent(uv_loop_t& loop, const config::AgentConfig& config, link::Spool spool,
        link::LinkSettings settings)
      : m_loop(loop),
        m_config(config),
        m_cpu(config.proc_root),
        m_memory(config.proc_root),
        m_buffer(config.max_batch),
        m_link(loop, m_zmq, m_clock, std::move(spool), std::move(settings)),
        m_signals(
            loop, [this](int signum) { stop(signum); },
            [] { spdlog::info("SIGHUP: nothing to reload yet; the config is read at start"); }) {}

  Result<void> start() {
    if (auto opened = m_cpu.open(); !opened) {
      return opened;
    }
    if (auto opened = m_memory.open(); !opened) {
      return opened;
    }
    if (auto linked = m_link.start(); !linked) {
      return linked;
    }
    uv_timer_init(&m_loop, &m_sample_timer);
    m_sample_timer.data = this;
    uv_timer_init(&m_loop, &m_flush_timer);
    m_flush_timer.data = this;
    const auto interval = static_cast<std::uint64_t>(m_config.interval.count());
    const auto flush = static_cast<std::uint64_t>(m_config.flush_interval.count());
    // Sample at once: the first CPU reading only primes the delta.
    uv_timer_start(&m_sample_timer, &Agent::on_sample_timer, 0, interval);
    uv_timer_start(&m_flush_timer, &Agent::on_flush_timer, flush, flush);
    spdlog::info("medic-agent {} started: id {}, coordinator {}, every {} ms",
                 build_info::k_version, m_config.id, m_config.coordinator_endpoint, interval);
    return {};
  }

private:
  static void on_sample_timer(uv_timer_t* timer) noexcept {
    static_cast<Agent*>(timer->data)->sample();
  }

  static void on_flush_timer(uv_timer_t* timer) noexcept {
    static_cast<Agent*>(timer->data)->flush();
  }

  void add(std::string_view name, double value, std::int64_t now_ms) noexcept {
    if (!m_buffer.append(name, value, now_ms)) {
      flush();
      (void)m_buffer.append(name, value, now_ms);
    }
  }

  void sample() noexcept {
    const std::int64_t now_ms = m_clock.now_unix_ms();
    if (auto cpu = m_cpu.sample(); !cpu) {
      report_sampler_error("cpu", cpu.error());
    } else if (cpu->has_value()) {
      const sample::CpuUsage& usage = **cpu;
      add("cpu.usage_pct", usage.busy_pct, now_ms);
      add("cpu.user_pct", usage.user_pct, now_ms);
      add("cpu.system_pct", usage.system_pct, now_ms);
      add("cpu.iowait_pct", usage.iowait_pct, now_ms);
      add("cpu.steal_pct", usage.steal_pct, now_ms);
      add("cpu.idle_pct", usage.idle_pct, now_ms);
    }
    if (auto memory = m_memory.sample(); !memory) {
      report_sampler_error("memory", memory.error());
    } else {
      add("mem.used_pct", memory->used_pct(), now_ms);
      add("mem.total_bytes", static_cast<double>(memory->total_bytes), now_ms);
      add("mem.available_bytes", static_cast<double>(memory->available_bytes), now_ms);
      add("swap.used_pct", memory->swap_used_pct(), now_ms);
    }
  }

  void report_sampler_error(std::string_view sampler, const Error& error) noexcept {
    std::uint64_t suppressed = 0;
    if (m_sampler_log_limit.allow(m_clock.monotonic_ms(), suppressed)) {
      spdlog::warn("{} sampler: {}", sampler, error.message());
    }
  }

  void flush() noexcept {
    if (m_buffer.empty()) {
      return;
    }
    m_link.send_batch(m_buffer.samples());
    m_buffer.clear();
  }

  void stop(int signum) noexcept {
    if (m_stopping) {
      return;
    }
    m_stopping = true;
    const auto& delivery = m_link.delivery().counters();
    spdlog::info("signal {}: stopping ({} batches spooled, {} sent, {} acked, {} held)", signum,
                 delivery.submitted, delivery.sent, delivery.acked,
                 m_link.delivery().spool_stats().batches);
    flush();
    uv::close_handle(m_sample_timer);
    uv::close_handle(m_flush_timer);
    m_signals.close();
    m_link.close();
  }

  uv_loop_t& m_loop;
  const config::AgentConfig& m_config;
  SystemClock m_clock;
  zmq::context_t m_zmq{1};
  sample::CpuSampler m_cpu;
  sample::MemorySampler m_memory;
  link::SampleBuffer m_buffer;
  link::CoordinatorLink m_link;
  uv::SignalWatch m_signals;
  uv_timer_t m_sample_timer{};
  uv_timer_t m_flush_timer{};
  log::RateLimiter m_sampler_log_limit{3, 60'000};
  bool m_stopping = false;
};

} // namespace

namespace {

Result<link::LinkSettings> link_settings(const config::AgentConfig& config) {
  link::LinkSettings settings;
  auto keys = security::load_or_create_keypair(config.key_file);
  if (!keys) {
    return fail(std::move(keys).error().context("security.key_file"));
  }
  auto coordinator_key = security::resolve_public_key(config.coordinator_key);
  if (!coordinator_key) {
    return fail(std::move(coordinator_key)
                    .error()
                    .context("coordinator.public_key (copy the coordinator's coordinator.key.pub "
                             "here, or set the key itself)"));
  }
  settings.keys = std::move(*keys);
  settings.coordinator_key = std::move(*coordinator_key);
  settings.endpoint = config.coordinator_endpoint;
  settings.agent_id = config.id;
  settings.send_queue = static_cast<int>(config.send_queue);
  settings.heartbeat_interval = config.heartbeat_interval;
  settings.dead_after = config.dead_after;
  settings.delivery.ack_timeout = config.ack_timeout;
  settings.hello.host = config.host;
  settings.hello.agent_version = build_info::k_version;
  for (const auto& [name, value] : config.labels) {
    settings.hello.labels.push_back({name, value});
  }
  return settings;
}

} // namespace

Result<void> run_agent(const config::AgentConfig& config) {
  auto settings = link_settings(config);
  if (!settings) {
    return fail(std::move(settings).error());
  }
  const auto now_ms = SystemClock().now_unix_ms();
  auto spool = link::Spool::open(config.spool_path, {config.spool_max_bytes, config.spool_max_age},
                                 static_cast<std::uint64_t>(std::max<std::int64_t>(1, now_ms)));
  if (!spool) {
    return fail(std::move(spool).error().context("spool.path"));
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  Result<void> outcome;
  {
    Agent agent(loop, config, std::move(*spool), std::move(*settings));
    outcome = agent.start();
    if (outcome) {
      uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv::close_loop(loop);
  }
  return outcome;
}

Result<void> print_public_key(const config::AgentConfig& config) {
  auto keys = security::load_or_create_keypair(config.key_file);
  if (!keys) {
    return fail(std::move(keys).error().context("security.key_file"));
  }
  std::printf("%s\n", keys->public_key.c_str());
  return {};
}

} // namespace medic::agent::loop
