// SPDX-License-Identifier: Apache-2.0
#include "coordinator/service/coordinator_service.hpp"
#include "coordinator/service/storage_housekeeping.hpp"

#include <sys/resource.h>
#include <uv.h>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "coordinator/admin/admin_commands.hpp"
#include "coordinator/admin/admin_reply.hpp"
#include "coordinator/admin/admin_server.hpp"
#include "coordinator/admin/incident_commands.hpp"
#include "coordinator/admin/rules_commands.hpp"
#include "coordinator/engine/engine.hpp"
#include "coordinator/input/alert_receiver.hpp"
#include "coordinator/metrics/coordinator_metrics.hpp"
#include "coordinator/metrics/metrics_server.hpp"
#include "coordinator/server/ingest_server.hpp"
#include "coordinator/server/zap_handler.hpp"
#include "coordinator/service/config_reload.hpp"
#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"
#include "coordinator/storage/store_factory.hpp"
#include "shared/build_info.hpp"
#include "shared/clock.hpp"
#include "shared/log/logging.hpp"
#include "shared/security/curve_keys.hpp"
#include "shared/service/service_notifier.hpp"
#include "shared/uv/handle.hpp"
#include "shared/uv/signal_watch.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::service {

namespace {

constexpr std::size_t k_control_jobs = 256;

// Every connected agent holds one descriptor. Lifts the soft limit to the hard one (a soft
// limit of 1,024, systemd's and most shells' default, would cap the fleet at about 1,000 agents).
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) {
    return;
  }
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::info("open file limit raised from {} to {} (one descriptor per agent)", before,
                 limit.rlim_cur);
  }
}

using ConfigSource = cli::ConfigSource<config::CoordinatorConfig>;

// What a reload changed, for the admin reply.
struct ReloadReport {
  std::string summary;
  ConfigChanges changes;
  std::size_t rules = 0;
  std::string rules_from;
};
using ReloadDone = std::function<void(Result<ReloadReport>)>;

// One reload in progress: read and checked on libuv's threadpool, applied on the loop.
struct ReloadJob {
  uv_work_t work{};
  std::string actor;
  ReloadDone done;
  ConfigSource* source = nullptr;
  Result<config::CoordinatorConfig> config;
  Result<ConfigKeys> keys;
};

HousekeepingSettings housekeeping_settings(const config::CoordinatorConfig& config) {
  HousekeepingSettings settings;
  settings.retention.raw_ms = config.retention_raw.count();
  settings.retention.minute_ms = config.retention_minute.count();
  settings.retention.hour_ms = config.retention_hour.count();
  settings.retention.events_ms = config.retention_events.count();
  return settings;
}

class Coordinator {
public:
  Coordinator(uv_loop_t& loop, const config::CoordinatorConfig& config, storage::Store& store,
              gid_t admin_group, const security::CurveKeyPair& keys, diagnose::RuleSet rules,
              ConfigSource source)
      : m_loop(loop),
        m_config(config),
        m_source(std::move(source)),
        // Batch jobs stay within storage.queue (ingest pauses there); the rest is room for
        // HELLOs and admin queries, so a batch job is never refused for want of a slot.
        m_storage_worker(loop, "medic-storage", config.storage_queue + k_control_jobs),
        m_housekeeping(loop, m_clock, m_storage_worker, store, housekeeping_settings(config)),
        m_zap(loop, m_zmq, m_clock),
        m_ingest(loop, m_zmq, m_clock, m_zap, m_storage_worker, store,
                 {config.listen, static_cast<int>(config.receive_queue), keys.secret_key,
                  config.storage_queue}),
        m_engine(loop, m_clock, config.engine, std::move(rules), m_ingest, m_storage_worker, store),
        m_incident_commands(m_engine, m_storage_worker, store),
        m_rules_commands(config.engine, m_storage_worker, store),
        m_commands(m_clock, m_ingest, m_zap, m_storage_worker, store,
                   {config.stale_after, config.lost_after}),
        m_admin(loop, {config.admin_socket, admin_group},
                [this](const nlohmann::json& request, admin::Respond respond) {
                  if (admin::string_field(request, "cmd") == "reload") {
                    reload_request(request, std::move(respond));
                  } else {
                    m_commands.handle(request, respond);
                  }
                }),
        m_signals(
            loop, [this](int signum) { stop(signum); },
            [this] { reload("signal:SIGHUP", [](const Result<ReloadReport>&) {}); }) {}

  // Loop thread (SIGHUP, the admin `reload` request). Reads and checks the config again off the
  // loop, exactly as at start (file, environment, --set; rules file and escalation settings
  // included); when it is bad, the running config stays and `done` gets why (also logged).
  // Else the engine swaps in what can change live (Engine::reload) and the log level changes;
  // keys read only at start are reported as needing a restart. `done` runs on the loop.
  void reload(std::string actor, ReloadDone done) {
    if (m_stopped) {
      done(fail(ErrorCode::busy, "the coordinator is stopping"));
      return;
    }
    if (!m_source.reload) {
      done(fail(ErrorCode::invalid_argument,
                "this coordinator was started without a config file to read again; restart it"));
      return;
    }
    if (m_reload) {
      done(fail(ErrorCode::busy, "a reload is already in progress; try again in a moment"));
      return;
    }
    m_reload = std::make_unique<ReloadJob>();
    m_reload->actor = std::move(actor);
    m_reload->done = std::move(done);
    m_reload->source = &m_source;
    m_reload->work.data = this;
    spdlog::info("reloading the config (asked by {})", m_reload->actor);
    m_notifier.reloading("reloading the config"); // systemd: RELOADING=1 until READY=1 again
    uv_queue_work(&m_loop, &m_reload->work, &Coordinator::read_config, [](uv_work_t* work, int) {
      static_cast<Coordinator*>(work->data)->apply_reload();
    });
  }

  // Before the loop runs, so the allowlist is complete before the first handshake, and the
  // engine has its incidents back before the first batch (the storage worker is idle yet).
  Result<void> start(const std::vector<storage::AgentKey>& keys) {
    if (auto restored = m_engine.restore(); !restored) {
      return restored;
    }
    m_ingest.set_listener(&m_engine);
    m_ingest.set_store_latency(&m_metrics.storage_write_seconds());
    m_engine.set_recovery_counter(&m_metrics.recoveries());
    m_commands.set_incident_commands(&m_incident_commands);
    m_rules_commands.set_catalog_source([this] { return m_engine.fleet().catalogs(); });
    m_commands.set_rules_commands(&m_rules_commands);
    m_commands.set_agent_catalog(
        [this](const std::string& id) -> std::optional<std::vector<protocol::ActionSchema>> {
          const engine::AgentView* view = m_engine.fleet().find(id);
          if (view == nullptr || !view->greeted) {
            return std::nullopt;
          }
          return view->catalog;
        });
    m_engine.start();
    m_housekeeping.start();
    for (const auto& key : keys) {
      if (key.revoked_ms == 0) {
        m_zap.allow(key.public_key, key.agent_id);
      }
    }
    // The handler must answer before the ROUTER exists, or libzmq admits every CURVE client.
    if (auto zap = m_zap.start(); !zap) {
      return zap;
    }
    if (auto listening = m_ingest.start(); !listening) {
      return listening;
    }
    if (auto admin = m_admin.start(); !admin) {
      return admin;
    }
    if (!m_config.alert_input.listen.empty()) {
      auto receiver = input::AlertReceiver::start(m_loop, m_config.alert_input, m_engine);
      if (!receiver) {
        return fail(std::move(receiver).error().context("alertmanager_input"));
      }
      m_alerts = std::move(*receiver);
      spdlog::info("Alertmanager webhook input on http://{}{}", m_config.alert_input.listen,
                   input::k_alertmanager_path);
    }
    if (auto metrics = start_metrics(); !metrics) {
      return metrics;
    }
    if (auto file_keys = read_config_keys(m_source.path); file_keys) {
      m_file_keys = std::move(*file_keys);
    } else {
      spdlog::warn("reload will report every key of the file as changed: {}",
                   file_keys.error().message());
    }
    spdlog::info(
        "medic-coordinator {} started: agents on {} (CURVE, {} enrolled keys), admin "
        "socket {}, storage {}",
        build_info::k_version, m_ingest.endpoint(), m_zap.allowed(), m_config.admin_socket,
        storage::redact_postgres_url(m_config.storage));
    m_notifier.ready(fmt::format("agents on {}, {} enrolled keys", m_ingest.endpoint(),
                                 m_zap.allowed())); // systemd: started (Type=notify)
    return {};
  }

  // Start-up failed: release what start() may have taken, without waiting for a signal.
  void abandon() noexcept { shutdown(); }

private:
  // libuv's threadpool: touches only the job (the source's reload reads no running state).
  static void read_config(uv_work_t* work) noexcept {
    ReloadJob& job = *static_cast<Coordinator*>(work->data)->m_reload;
    try {
      job.config = job.source->reload();
      if (job.config) {
        job.keys = read_config_keys(job.source->path);
      }
    } catch (const std::exception& e) {
      job.config = fail(ErrorCode::config, std::string("reading the config: ") + e.what());
    }
  }

  // Loop thread, after read_config.
  void apply_reload() noexcept {
    auto job = std::move(m_reload);
    try {
      Result<ReloadReport> report = check_reload(*job);
      if (report) {
        spdlog::info("{} (asked by {})", report->summary, job->actor);
      } else {
        spdlog::error("reload asked by {} refused, the running config stays: {}", job->actor,
                      report.error().message());
      }
      m_notifier.ready(report ? "config reloaded" : "reload refused; the running config stays");
      job->done(std::move(report));
    } catch (const std::exception& e) {
      m_notifier.ready("reload failed; the running config stays");
      spdlog::error("reload asked by {}: {}", job->actor, e.what());
    }
  }

  Result<ReloadReport> check_reload(ReloadJob& job) {
    if (m_stopped) {
      return fail(ErrorCode::busy, "the coordinator is stopping");
    }
    if (!job.config) {
      return fail(std::move(job.config).error());
    }
    if (!job.keys) {
      return fail(std::move(job.keys).error());
    }
    config::CoordinatorConfig& next = *job.config;
    ReloadReport report;
    report.changes = compare_config_keys(m_file_keys, *job.keys);
    report.rules = next.engine.diagnose.rules.size();
    report.rules_from = next.engine.diagnose.rules.origin();
    report.summary =
        describe_reload(m_source.path, report.changes, m_engine.rules().size(), report.rules);
    if (report.changes.log_level) {
      if (auto level = log::parse_level(next.log_level); level) {
        spdlog::set_level(*level);
      }
    }
    m_engine.reload(
        std::move(next.engine),
        report.changes.sinks ? engine::Engine::Sinks::rebuild : engine::Engine::Sinks::keep,
        job.actor, report.summary);
    // Keys that need a restart keep their start-up value here: reported again next time.
    ConfigKeys kept = std::move(*job.keys);
    for (const auto& key : report.changes.needs_restart) {
      if (const auto old = m_file_keys.find(key); old != m_file_keys.end()) {
        kept[key] = old->second;
      } else {
        kept.erase(key);
      }
    }
    m_file_keys = std::move(kept);
    return report;
  }

  void reload_request(const nlohmann::json& request, admin::Respond respond) {
    reload(admin::actor_of(request), [respond = std::move(respond)](Result<ReloadReport> report) {
      if (!report && report.error().code() == ErrorCode::busy) {
        respond(admin::failure("busy", report.error().message()));
        return;
      }
      if (!report) {
        respond(admin::failure("bad-config", report.error().message() +
                                                 " (the running config stays; fix the file "
                                                 "and run medicctl reload again)"));
        return;
      }
      respond({{"ok", true},
               {"summary", report->summary},
               {"changed", report->changes.applied},
               {"needs_restart", report->changes.needs_restart},
               {"rules", report->rules},
               {"rules_from", report->rules_from}});
    });
  }

  void stop(int signum) noexcept {
    spdlog::info("signal {}: stopping", signum);
    shutdown();
  }

  // metrics.listen: /metrics on its own thread; a scrape has the loop collect (bounded wait).
  Result<void> start_metrics() {
    if (metrics::metrics_off(m_config.metrics.listen)) {
      return {};
    }
    auto server =
        metrics::MetricsServer::start(m_loop, m_config.metrics.listen, m_metrics_registry, [this] {
          m_metrics.collect({m_clock, m_ingest, m_zap, m_engine, m_storage_worker,
                             m_config.stale_after, m_config.lost_after});
        });
    if (!server) {
      return fail(std::move(server).error());
    }
    m_metrics_server = std::move(*server);
    spdlog::info("Prometheus metrics on http://{}{}", m_config.metrics.listen,
                 metrics::k_metrics_path);
    return {};
  }

  void shutdown() noexcept {
    if (m_stopped) {
      return;
    }
    m_stopped = true;
    if (m_metrics_server) {
      m_metrics_server->close(); // a scrape waiting for the loop gives up at once
    }
    m_notifier.stopping("stopping"); // systemd: STOPPING=1, watchdog off
    m_admin.close();
    if (m_alerts) {
      m_alerts->close(); // hands what it answered 200 to the engine before it closes
    }
    m_ingest.stop_receiving();
    m_engine.close();        // its last writes go to the worker before it drains
    m_housekeeping.close();  // so do the minute roll-ups still open
    m_storage_worker.stop(); // stores what is queued and acks it
    m_ingest.close();
    m_zap.close();
    m_signals.close();
    const auto& c = m_ingest.counters();
    spdlog::info(
        "stopped: {} batches ({} samples) stored, {} duplicates, {} malformed, "
        "{} refused while busy",
        c.batches, c.samples, c.duplicates, c.malformed, c.refused_busy);
  }

  uv_loop_t& m_loop;
  const config::CoordinatorConfig& m_config; // as started; the engine holds the reloaded one
  ConfigSource m_source;
  ConfigKeys m_file_keys;              // the file's keys as last applied, for what a reload changes
  std::unique_ptr<ReloadJob> m_reload; // in progress
  SystemClock m_clock;
  // Before the storage worker, which observes into it until it stops.
  metrics::Registry m_metrics_registry;
  metrics::CoordinatorMetrics m_metrics{m_metrics_registry};
  zmq::context_t m_zmq{1};
  uv::Worker m_storage_worker;
  StorageHousekeeping m_housekeeping; // roll-ups and retention, on the storage worker
  server::ZapHandler m_zap;
  server::IngestServer m_ingest;
  engine::Engine m_engine;
  admin::IncidentCommands m_incident_commands;
  admin::RulesCommands m_rules_commands;
  admin::AdminCommands m_commands;
  admin::AdminServer m_admin;
  uv::SignalWatch m_signals;
  // READY, WATCHDOG and STOPPING for systemd (Type=notify); does nothing without systemd.
  medic::service::ServiceNotifier m_notifier{m_loop};
  std::unique_ptr<input::AlertReceiver> m_alerts; // when alertmanager_input.listen is set
  // When metrics.listen is set.
  std::unique_ptr<metrics::MetricsServer> m_metrics_server;
  bool m_stopped = false;
};

} // namespace

Result<void> run_coordinator(const config::CoordinatorConfig& config, ConfigSource source) {
  raise_open_file_limit();
  gid_t admin_group = static_cast<gid_t>(-1);
  if (!config.admin_group.empty()) {
    auto gid = admin::group_id(config.admin_group);
    if (!gid) {
      return fail(std::move(gid).error());
    }
    admin_group = *gid;
  }
  auto keys = security::load_or_create_keypair(config.key_file);
  if (!keys) {
    return fail(std::move(keys).error().context("security.key_file"));
  }
  auto store = config.sqlite_path.empty() ? storage::open_store(config.storage)
                                          : storage::open_sqlite_store(config.sqlite_path);
  if (!store) {
    return fail(std::move(store).error());
  }
  auto enrolled = (*store)->list_keys();
  if (!enrolled) {
    return fail(std::move(enrolled).error());
  }
  const auto& rules = config.engine.diagnose.rules;
  spdlog::info("diagnosis: {} rules from {}", rules.size(),
               rules.origin().empty() ? "nowhere (every incident needs review)" : rules.origin());
  uv_loop_t loop;
  uv_loop_init(&loop);
  Result<void> outcome;
  {
    Coordinator coordinator(loop, config, **store, admin_group, *keys, rules, std::move(source));
    outcome = coordinator.start(*enrolled);
    if (outcome) {
      uv_run(&loop, UV_RUN_DEFAULT);
    } else {
      coordinator.abandon();
    }
    uv::close_loop(loop);
  }
  return outcome;
}

} // namespace medic::coordinator::service
