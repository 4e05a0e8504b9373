// SPDX-License-Identifier: Apache-2.0
// medic-coordinator: wires the config to the service.
#include "coordinator/config/coordinator_config.hpp"
#include "coordinator/service/coordinator_service.hpp"
#include "shared/cli/daemon_main.hpp"
#include "shared/security/curve_keys.hpp"

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
       .run =
           [](const CoordinatorConfig& config) {
             return medic::coordinator::service::run_coordinator(config, {});
           },
       // The packages' postinst creates the key pair at install time with this (as user medic).
       .print_public_key = [](const CoordinatorConfig& config) -> medic::Result<void> {
         auto keys = medic::security::load_or_create_keypair(config.key_file);
         if (!keys) {
           return medic::fail(std::move(keys).error().context("security.key_file"));
         }
         std::printf("%s\n", keys->public_key.c_str());
         return {};
       },
       .run_reloadable = medic::coordinator::service::run_coordinator});
}
