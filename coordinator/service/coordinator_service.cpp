// SPDX-License-Identifier: Apache-2.0
#include "coordinator/service/coordinator_service.hpp"

#include <uv.h>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "coordinator/admin/admin_commands.hpp"
#include "coordinator/admin/admin_server.hpp"
#include "coordinator/admin/incident_commands.hpp"
#include "coordinator/admin/rules_commands.hpp"
#include "coordinator/engine/engine.hpp"
#include "coordinator/input/alert_receiver.hpp"
#include "coordinator/server/ingest_server.hpp"
#include "coordinator/server/zap_handler.hpp"
#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"
#include "coordinator/storage/store_factory.hpp"
#include "shared/build_info.hpp"
#include "shared/clock.hpp"
#include "shared/security/curve_keys.hpp"
#include "shared/uv/handle.hpp"
#include "shared/uv/signal_watch.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::service {

namespace {

constexpr std::size_t k_control_jobs = 256;

class Coordinator {
public:
  Coordinator(uv_loop_t& loop, const config::CoordinatorConfig& config, storage::Store& store,
              gid_t admin_group, const security::CurveKeyPair& keys, diagnose::RuleSet rules)
      : m_loop(loop),
        m_config(config),
        // Batch jobs stay within storage.queue (ingest pauses there); the rest is room for
        // HELLOs and admin queries, so a batch job is never refused for want of a slot.
        m_storage_worker(loop, "medic-storage", config.storage_queue + k_control_jobs),
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
                  m_commands.handle(request, respond);
                }),
        m_signals(
            loop, [this](int signum) { stop(signum); },
            [] { spdlog::info("SIGHUP: nothing to reload yet; the config is read at start"); }) {}

  // Before the loop runs, so the allowlist is complete before the first handshake, and the
  // engine has its incidents back before the first batch (the storage worker is idle yet).
  Result<void> start(const std::vector<storage::AgentKey>& keys) {
    if (auto restored = m_engine.restore(); !restored) {
      return restored;
    }
    m_ingest.set_listener(&m_engine);
    m_commands.set_incident_commands(&m_incident_commands);
    m_rules_commands.set_catalog_source([this] { return m_engine.fleet().catalogs(); });
    m_commands.set_rules_commands(&m_rules_commands);
    m_engine.start();
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
    spdlog::info(
        "medic-coordinator {} started: agents on {} (CURVE, {} enrolled keys), admin "
        "socket {}, storage {}",
        build_info::k_version, m_ingest.endpoint(), m_zap.allowed(), m_config.admin_socket,
        storage::redact_postgres_url(m_config.storage));
    return {};
  }

  // Start-up failed: release what start() may have taken, without waiting for a signal.
  void abandon() noexcept { shutdown(); }

private:
  void stop(int signum) noexcept {
    spdlog::info("signal {}: stopping", signum);
    shutdown();
  }

  void shutdown() noexcept {
    if (m_stopped) {
      return;
    }
    m_stopped = true;
    m_admin.close();
    if (m_alerts) {
      m_alerts->close(); // hands what it answered 200 to the engine before it closes
    }
    m_ingest.stop_receiving();
    m_engine.close();        // its last writes go to the worker before it drains
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
  const config::CoordinatorConfig& m_config;
  SystemClock m_clock;
  zmq::context_t m_zmq{1};
  uv::Worker m_storage_worker;
  server::ZapHandler m_zap;
  server::IngestServer m_ingest;
  engine::Engine m_engine;
  admin::IncidentCommands m_incident_commands;
  admin::RulesCommands m_rules_commands;
  admin::AdminCommands m_commands;
  admin::AdminServer m_admin;
  uv::SignalWatch m_signals;
  std::unique_ptr<input::AlertReceiver> m_alerts; // when alertmanager_input.listen is set
  bool m_stopped = false;
};

} // namespace

Result<void> run_coordinator(const config::CoordinatorConfig& config) {
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
    Coordinator coordinator(loop, config, **store, admin_group, *keys, rules);
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
