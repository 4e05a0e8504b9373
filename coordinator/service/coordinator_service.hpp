// SPDX-License-Identifier: Apache-2.0
// The coordinator process: opens storage, binds the agent socket and the admin socket, runs the
// loop until SIGTERM/SIGINT, then drains storage and removes its socket file.
#pragma once

#include "coordinator/config/coordinator_config.hpp"
#include "shared/cli/config_source.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::service {

// Returns an error only for start-up failures (bad storage, address in use). `source` reads
// the config again on SIGHUP and `medicctl reload` (without it, reloading is refused).
[[nodiscard]] Result<void> run_coordinator(const config::CoordinatorConfig& config,
                                           cli::ConfigSource<config::CoordinatorConfig> source);

} // namespace medic::coordinator::service
