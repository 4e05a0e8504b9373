// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/agent_loop.hpp"

#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "agent/link/coordinator_link.hpp"
#include "agent/loop/agent.hpp"
#include "agent/loop/footprint.hpp"
#include "agent/loop/service_control.hpp"
#include "shared/build_info.hpp"
#include "shared/clock.hpp"
#include "shared/security/curve_keys.hpp"
#include "shared/uv/handle.hpp"
#include "shared/uv/signal_watch.hpp"

namespace medic::agent::loop {

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
  settings.answer_within = config.answer_within;
  settings.delivery.ack_timeout = config.ack_timeout;
  settings.hello.host = config.host;
  settings.hello.agent_version = build_info::k_version;
  for (const auto& [name, value] : config.labels) {
    settings.hello.labels.push_back({name, value});
  }
  if (config.acting.catalog) {
    settings.hello.actions = config.acting.catalog->schemas();
  }
  return settings;
}

} // namespace

Result<void> run_agent(const config::AgentConfig& config) {
  // The configuration is parsed. The code that ran before main() (static initialisers) and the
  // parser's would otherwise stay resident until the next release (Agent::create), and their sum
  // with what runs until then would be the start-up peak (VmHWM).
  (void)release_startup_code();
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
  auto cursors = LogPipeline::load_cursors(spool->database());
  if (!cursors) {
    return fail(std::move(cursors).error().context("reading log positions from the spool"));
  }
  auto acting = Acting::load_state(spool->database(), now_ms);
  if (!acting) {
    return fail(std::move(acting).error().context("reading the action ledger from the spool"));
  }
  // The spool and the state in it are read (SQLite opening, schema checks): their code too.
  (void)release_startup_code();
  // libuv's threadpool does the agent's file I/O (log reads, statvfs, file checks). Two threads
  // keep one slow file system from stalling the rest, and cost far less than the default four.
  // Read once, at the pool's first use, so it must be set before anything is queued.
  setenv("UV_THREADPOOL_SIZE", "2", 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Result<void> outcome;
  bool reexec = false;
  {
    ServiceControl service(loop); // systemd notifications and SIGHUP; outlives the agent
    auto agent = Agent::create(loop, config, std::move(*spool), std::move(*settings),
                               std::move(*cursors), std::move(*acting));
    if (agent) {
      Agent* running = agent->get();
      auto reload = [&service, running] {
        service.reload([running] { running->stop_for_reload(); });
      };
      running->set_service_hooks(
          {.reload = reload, .stopping = [&service] { service.stopping(); }});
    }
    outcome = agent ? (*agent)->start() : fail(std::move(agent).error());
    if (outcome) {
      service.notifier().ready(fmt::format("reporting to {} as {} every {} ms",
                                           config.coordinator_endpoint, config.id,
                                           config.interval.count()));
      uv_run(&loop, UV_RUN_DEFAULT);
    } else {
      service.notifier().close();
    }
    uv::close_loop(loop);
    reexec = service.reexec_requested();
  }
  if (outcome && reexec) {
    // Everything is closed (spool, sockets, loop): the new image opens them again.
    return ServiceControl::reexec();
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
