// SPDX-License-Identifier: Apache-2.0
// medic-coordinator: wires the config to the service.
#include "coordinator/config/coordinator_config.hpp"
#include "coordinator/service/coordinator_service.hpp"
#include "shared/cli/daemon_main.hpp"

int main(int argc, char** argv) {
  using medic::coordinator::config::CoordinatorConfig;
  return medic::cli::daemon_main<CoordinatorConfig>(
      argc, argv,
      {.name = "medic-coordinator",
       .summary = "Collects what medic agents report and heals the fleet.",
       .default_config = medic::coordinator::config::k_default_path,
       .make_schema = medic::coordinator::config::make_schema,
       .finish = medic::coordinator::config::finish,
       .log_level = [](const CoordinatorConfig& config) { return config.log_level; },
       .run = medic::coordinator::service::run_coordinator});
}
