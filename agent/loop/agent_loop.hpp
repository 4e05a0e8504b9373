// SPDX-License-Identifier: Apache-2.0
// The agent process: one libuv loop that samples every interval, fills the batch, flushes it to
// the coordinator link, and stops cleanly on SIGTERM/SIGINT.
#pragma once

#include <memory>

#include "agent/config/agent_config.hpp"
#include "shared/error.hpp"

namespace medic::agent::loop {

// Runs until a stop signal. Returns an error only for start-up failures.
[[nodiscard]] Result<void> run_agent(const config::AgentConfig& config);

// Loads (creating it if missing) the agent's key pair and prints its public key, for enrolment.
[[nodiscard]] Result<void> print_public_key(const config::AgentConfig& config);

} // namespace medic::agent::loop
