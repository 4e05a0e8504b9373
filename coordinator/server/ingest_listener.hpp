// SPDX-License-Identifier: Apache-2.0
// What ingest tells the rest of the coordinator (the engine): an agent introduced itself, a
// batch was stored for the first time, a standalone RESULT arrived. Loop thread only; the
// listener must not block (it hands work on, e.g. to the storage worker).
#pragma once

#include <cstdint>
#include <string>

#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::server {

class IngestListener {
public:
  IngestListener() = default;
  IngestListener(const IngestListener&) = delete;
  IngestListener& operator=(const IngestListener&) = delete;
  virtual ~IngestListener() = default;

  virtual void on_hello(const std::string& agent_id, const protocol::Hello& hello,
                        std::int64_t received_ms) noexcept = 0;
  // Only batches stored for the first time: a redelivered batch is never seen twice.
  virtual void on_batch(const std::string& agent_id, const protocol::Batch& batch,
                        std::int64_t received_ms) noexcept = 0;
  virtual void on_result(const std::string& agent_id, const protocol::CommandResult& result,
                         std::int64_t received_ms) noexcept = 0;
};

// How the engine reaches an agent. ingest implements it over the ROUTER socket.
class CommandSender {
public:
  CommandSender() = default;
  CommandSender(const CommandSender&) = delete;
  CommandSender& operator=(const CommandSender&) = delete;
  virtual ~CommandSender() = default;

  // Sends a COMMAND to a connected agent. Fails (not_found) when the agent is not connected,
  // (busy) when its queue is full.
  [[nodiscard]] virtual Result<void> send_command(const std::string& agent_id,
                                                  const protocol::Command& command) noexcept = 0;
  // Sends the maintenance policy (windows, freeze) that applies to the agent; same failures.
  [[nodiscard]] virtual Result<void> send_policy(const std::string& agent_id,
                                                 const protocol::Policy& policy) noexcept = 0;
};

} // namespace medic::coordinator::server
