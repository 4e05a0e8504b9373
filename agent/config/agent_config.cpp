// SPDX-License-Identifier: Apache-2.0
#include "agent/config/agent_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>

namespace medic::agent::config {

namespace {

using namespace std::chrono_literals;

Result<void> check_id(const std::string& id) {
  if (id.size() > 64) {
    return fail(ErrorCode::config, "at most 64 characters");
  }
  const bool ok = std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_' ||
           c == ':' || c == '@';
  });
  if (!ok) {
    return fail(ErrorCode::config, "'" + id + "' may hold only letters, digits and . - _ : @");
  }
  return {};
}

Result<void> check_endpoint(const std::string& endpoint) {
  if (!endpoint.starts_with("tcp://") && !endpoint.starts_with("ipc://")) {
    return fail(ErrorCode::config,
                "'" + endpoint + "' is not a ZeroMQ endpoint like tcp://coordinator.example:4790");
  }
  return {};
}

std::string host_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name.data();
}

} // namespace

medic::config::Schema make_schema(AgentConfig& config) {
  medic::config::Schema schema("MEDIC_AGENT_");
  schema.add_string("agent.id", config.id,
                    "Identity reported to the coordinator; empty means the host name", check_id);
  schema.add_string("agent.host", config.host, "Host name reported; empty means gethostname()");
  schema.add_string_map("agent.labels", config.labels,
                        "Free-form labels sent with HELLO, e.g. {role: db, dc: fra1}");
  schema.add_string("coordinator.endpoint", config.coordinator_endpoint,
                    "ZeroMQ endpoint of the coordinator", check_endpoint);
  schema.add_integer<std::uint32_t>("coordinator.send_queue", config.send_queue, 1, 100'000,
                                    "Messages ZeroMQ may queue for a connected coordinator");
  schema.add_string("coordinator.public_key", config.coordinator_key,
                    "The coordinator's CURVE public key, or a file holding it (its "
                    "coordinator.key.pub)");
  schema.add_duration("coordinator.heartbeat_interval", config.heartbeat_interval, 100ms, 1min,
                      "How often the agent sends HEARTBEAT (one more goes at once with signals "
                      "or action results)");
  schema.add_duration("coordinator.dead_after", config.dead_after, 300ms, 10min,
                      "Silence after which the coordinator counts as lost");
  schema.add_duration("coordinator.answer_within", config.answer_within, 100ms, 10min,
                      "A HEARTBEAT unanswered this long (at most dead_after) and the coordinator "
                      "counts as lost");
  schema.add_duration("coordinator.ack_timeout", config.ack_timeout, 1s, 1h,
                      "A batch unacked this long while the coordinator is alive is resent");
  schema.add_string("security.key_file", config.key_file,
                    "This agent's CURVE key pair (mode 0600), created with its .pub if missing");
  schema.add_string("spool.path", config.spool_path,
                    "SQLite file holding batches until the coordinator acks them");
  schema.add_size("spool.max_bytes", config.spool_max_bytes, 64 * 1024, 1ULL << 40,
                  "Spool bound; over it the oldest sample batches are dropped first");
  schema.add_duration("spool.max_age", config.spool_max_age, 1min, 365 * 24h,
                      "Batches older than this are dropped from the spool");
  schema.add_duration("sample.interval", config.interval, 100ms, 1h,
                      "How often every sampler runs");
  schema.add_string("sample.proc_root", config.proc_root,
                    "Where procfs is mounted (a test or container may point elsewhere)");
  schema.add_duration("batch.flush_interval", config.flush_interval, 100ms, 1h,
                      "A batch is sent at least this often when it holds anything");
  schema.add_integer<std::uint32_t>("batch.max_samples", config.max_batch, 16, 10'000,
                                    "A batch is sent as soon as it holds this many samples");
  schema.add_duration("batch.event_delay", config.event_delay, 0ms, 1min,
                      "Signals (with every log event waiting) are sent at most this long after "
                      "they happen; log events without a signal go with the samples, every "
                      "batch.flush_interval");
  schema.add_choice("log.level", config.log_level,
                    {"trace", "debug", "info", "warn", "error", "critical", "off"},
                    "Least severe level written to the log");
  add_sensing_keys(schema, config.sensing);
  add_acting_keys(schema, config.acting);
  return schema;
}

Result<void> finish(AgentConfig& config) {
  if (config.dead_after <= config.heartbeat_interval) {
    return fail(ErrorCode::config,
                "coordinator.dead_after must be longer than coordinator.heartbeat_interval");
  }
  if (config.host.empty()) {
    config.host = host_name();
  }
  if (config.id.empty()) {
    config.id = config.host.substr(0, 64);
    if (auto ok = check_id(config.id); !ok) {
      return fail(std::move(ok).error().context("agent.id (taken from the host name)"));
    }
  }
  if (auto sensing = finish_sensing(config.sensing); !sensing) {
    return sensing;
  }
  return finish_acting(config.acting);
}

} // namespace medic::agent::config
