// SPDX-License-Identifier: Apache-2.0
#include "coordinator/config/coordinator_config.hpp"

#include "coordinator/storage/store_factory.hpp"

namespace medic::coordinator::config {

namespace {

Result<void> check_listen(const std::string& endpoint) {
  if (!endpoint.starts_with("tcp://") && !endpoint.starts_with("ipc://")) {
    return fail(ErrorCode::config,
                "'" + endpoint + "' is not a ZeroMQ endpoint like tcp://0.0.0.0:4790");
  }
  return {};
}

Result<void> check_storage(const std::string& url) {
  if (auto kind = storage::store_kind(url); !kind) {
    return fail(std::move(kind).error());
  }
  return {};
}

Result<void> check_socket_path(const std::string& path) {
  // sun_path holds 108 bytes including the terminating NUL.
  if (path.empty() || path.size() > 107) {
    return fail(ErrorCode::config, "a Unix socket path must have 1 to 107 characters");
  }
  return {};
}

} // namespace

medic::config::Schema make_schema(CoordinatorConfig& config) {
  medic::config::Schema schema("MEDIC_COORDINATOR_");
  schema.add_string("agents.listen", config.listen,
                    "ZeroMQ endpoint agents connect to; tcp://127.0.0.1:* picks a free port",
                    check_listen);
  schema.add_integer<std::uint32_t>(
      "agents.receive_queue", config.receive_queue, 1, 1'000'000,
      "Messages ZeroMQ holds per agent connection before it pushes back on that agent (an "
      "agent has at most 16 batches in flight)");
  schema.add_duration("agents.stale_after", config.stale_after, std::chrono::seconds(1),
                      std::chrono::hours(24), "An agent silent this long is shown as stale");
  schema.add_duration("agents.lost_after", config.lost_after, std::chrono::seconds(1),
                      std::chrono::hours(24 * 7), "An agent silent this long is shown as lost");
  schema.add_string("security.key_file", config.key_file,
                    "The coordinator's CURVE key pair (mode 0600), created with its .pub if "
                    "missing; agents need the public half");
  schema.add_string("storage.url", config.storage,
                    "Where state lives: sqlite:///path/to/medic.db (embedded, the default) or "
                    "postgresql://user:password@host:5432/medic (docs/storage.md)",
                    check_storage);
  schema.add_integer<std::uint32_t>("storage.queue", config.storage_queue, 1, 1'000'000,
                                    "Batches waiting for the database writer before ingest "
                                    "stops reading and agents are pushed back");
  // Raw rows also carry the batch claims that make redelivery harmless: they must outlive
  // anything an agent's spool could still send (spool.max_age, 7 days at most by default).
  schema.add_duration("storage.retention.raw", config.retention_raw, std::chrono::milliseconds(0),
                      std::chrono::hours(24 * 3650),
                      "Raw samples (and batch claims) are kept this long; 0 keeps them for ever");
  schema.add_duration("storage.retention.minute", config.retention_minute,
                      std::chrono::milliseconds(0), std::chrono::hours(24 * 3650),
                      "Per-minute roll-ups (count, sum, min, max per series) are kept this long");
  schema.add_duration("storage.retention.hour", config.retention_hour,
                      std::chrono::milliseconds(0), std::chrono::hours(24 * 3650),
                      "Per-hour roll-ups are kept this long");
  schema.add_duration("storage.retention.events", config.retention_events,
                      std::chrono::milliseconds(0), std::chrono::hours(24 * 3650),
                      "Signals, log events and evidence are kept this long");
  schema.add_string("admin.socket", config.admin_socket, "Unix socket medicctl talks to",
                    check_socket_path);
  schema.add_string("admin.group", config.admin_group,
                    "Group allowed on the admin socket besides root and the coordinator's user");
  schema.add_choice("log.level", config.log_level,
                    {"trace", "debug", "info", "warn", "error", "critical", "off"},
                    "Least severe level written to the log");
  engine::add_engine_keys(schema, config.engine);
  input::add_alert_input_keys(schema, config.alert_input);
  metrics::add_metrics_keys(schema, config.metrics);
  return schema;
}

Result<void> finish(CoordinatorConfig& config) {
  if (config.retention_raw.count() != 0 && config.retention_raw < std::chrono::hours(24)) {
    return fail(ErrorCode::config,
                "storage.retention.raw must be at least 1d (or 0, for ever): batch claims are "
                "kept as long, and an agent may resend a batch from its spool after a day away");
  }
  if (config.lost_after <= config.stale_after) {
    return fail(ErrorCode::config, "agents.lost_after must be longer than agents.stale_after");
  }
  if (auto ok = engine::finish_engine(config.engine); !ok) {
    return ok;
  }
  if (auto ok = check_storage(config.storage); !ok) {
    return fail(std::move(ok).error().context("storage.url"));
  }
  config.sqlite_path.clear();
  if (storage::store_kind(config.storage) == storage::StoreKind::sqlite) {
    auto path = storage::sqlite_path(config.storage);
    if (!path) {
      return fail(std::move(path).error().context("storage.url"));
    }
    // sqlite://relative/path is allowed for tests and quick trials.
    config.sqlite_path = std::filesystem::absolute(*path);
  }
  return {};
}

} // namespace medic::coordinator::config
