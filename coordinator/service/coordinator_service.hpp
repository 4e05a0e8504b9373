// SPDX-License-Identifier: Apache-2.0
// The coordinator process: opens storage, binds the agent socket and the admin socket, runs the
// loop until SIGTERM/SIGINT, then drains storage and removes its socket file.
#pragma once

#include "coordinator/config/coordinator_config.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::service {

// Returns an error only for start-up failures (bad storage, address in use).
[[nodiscard]] Result<void> run_coordinator(const config::CoordinatorConfig& config);

} // namespace medic::coordinator::service
