// SPDX-License-Identifier: Apache-2.0
// The agent's typed configuration and the table of keys that fills it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "agent/config/acting_config.hpp"
#include "agent/config/sensing_config.hpp"
#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::agent::config {

inline constexpr const char* k_default_path = "/etc/medic/agent.yaml";

struct AgentConfig {
  std::string id;   // empty: the host name
  std::string host; // empty: the host name
  std::map<std::string, std::string> labels;

  std::string coordinator_endpoint = "tcp://127.0.0.1:4790";
  std::uint32_t send_queue = 100; // messages ZeroMQ may hold for a connected coordinator
  // The coordinator's CURVE public key: the key itself (40 Z85 characters) or a file holding it.
  std::string coordinator_key = "/var/lib/medic/coordinator.key.pub";
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds dead_after{15'000};
  std::chrono::milliseconds answer_within{3000};
  std::chrono::milliseconds ack_timeout{10'000};

  std::string key_file = "/var/lib/medic/agent.key"; // this agent's CURVE key pair

  std::string spool_path = "/var/lib/medic/agent-spool.db";
  std::uint64_t spool_max_bytes = 64ULL << 20;
  std::chrono::milliseconds spool_max_age{7LL * 24 * 3600 * 1000};

  std::chrono::milliseconds interval{1000};
  std::string proc_root = "/proc";

  // Samples leave every 10 s (Telegraf's default too): signals do not wait for it (event_delay),
  // and each flush is a spool transaction with an fsync and a CURVE-encrypted send.
  std::chrono::milliseconds flush_interval{10'000};
  std::uint32_t max_batch = 1000;             // samples per batch
  std::chrono::milliseconds event_delay{100}; // signals and log events wait at most this

  std::string log_level = "info";
  SensingConfig sensing; // samplers, log sources, rules
  ActingConfig acting;   // action catalog, fallback healing, diagnostics
};

// Binds every key of the table to `config`; `config` must outlive the schema.
[[nodiscard]] medic::config::Schema make_schema(AgentConfig& config);

// Cross-key checks and defaults that need the machine (the host name). Call after loading.
[[nodiscard]] Result<void> finish(AgentConfig& config);

} // namespace medic::agent::config
