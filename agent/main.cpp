// SPDX-License-Identifier: Apache-2.0
// medic-agent: wires the config to the loop.
#include "agent/config/agent_config.hpp"
#include "agent/loop/agent_loop.hpp"
#include "agent/loop/service_control.hpp"
#include "shared/cli/daemon_main.hpp"

int main(int argc, char** argv) {
  using medic::agent::config::AgentConfig;
  medic::agent::loop::remember_command_line(argc, argv); // a SIGHUP reload re-executes it
  return medic::cli::daemon_main<AgentConfig>(
      argc, argv,
      {.name = "medic-agent",
       .summary = "Watches this host and reports to the medic coordinator.",
       .default_config = medic::agent::config::k_default_path,
       .make_schema = medic::agent::config::make_schema,
       .finish = medic::agent::config::finish,
       .log_level = [](const AgentConfig& config) { return config.log_level; },
       .run = medic::agent::loop::run_agent,
       .print_public_key = medic::agent::loop::print_public_key});
}
