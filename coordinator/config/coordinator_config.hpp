// SPDX-License-Identifier: Apache-2.0
// The coordinator's typed configuration and the table of keys that fills it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "coordinator/engine/engine_config.hpp"
#include "coordinator/input/alert_receiver.hpp"
#include "coordinator/metrics/metrics_config.hpp"
#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::config {

inline constexpr const char* k_default_path = "/etc/medic/coordinator.yaml";
inline constexpr const char* k_default_admin_socket = "/run/medic/coordinator.sock";

struct CoordinatorConfig {
  std::string listen = "tcp://127.0.0.1:4790";
  std::uint32_t receive_queue = 256; // per agent connection: messages ZeroMQ holds for us
  std::chrono::milliseconds stale_after{15'000}; // three of an agent's default heartbeat intervals
  std::chrono::milliseconds lost_after{30'000};
  std::string key_file = "/var/lib/medic/coordinator.key"; // CURVE key pair, created if missing
  std::string storage = "sqlite:///var/lib/medic/medic.db";
  std::uint32_t storage_queue = 1024; // batches waiting for the database writer
  // storage.retention.*: how long each kind of row is kept (0: for ever), docs/storage.md.
  std::chrono::milliseconds retention_raw{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds retention_minute{std::chrono::hours(24 * 30)};
  std::chrono::milliseconds retention_hour{std::chrono::hours(24 * 400)};
  std::chrono::milliseconds retention_events{std::chrono::hours(24 * 30)};
  std::string admin_socket = k_default_admin_socket;
  std::string admin_group; // empty: the coordinator's own group
  std::string log_level = "info";
  engine::EngineConfig engine;         // correlation, diagnosis, plan, learn, escalation, commands
  input::AlertInputConfig alert_input; // Alertmanager's webhook as an input (off by default)
  metrics::MetricsConfig metrics;      // GET /metrics on loopback (off by default)

  // Derived by finish().
  std::filesystem::path sqlite_path; // absolute; empty when storage is PostgreSQL
};

[[nodiscard]] medic::config::Schema make_schema(CoordinatorConfig& config);

// Checks that need more than one key, and derives sqlite_path from `storage`.
[[nodiscard]] Result<void> finish(CoordinatorConfig& config);

} // namespace medic::coordinator::config
