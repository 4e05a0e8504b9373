// SPDX-License-Identifier: Apache-2.0
// medic-agent: wires the config to the loop.
#include <malloc.h>

#include <sqlite3.h>

#include "agent/config/agent_config.hpp"
#include "agent/detect/log_matcher.hpp"
#include "agent/loop/agent_loop.hpp"
#include "agent/loop/footprint.hpp"
#include "agent/loop/service_control.hpp"
#include "shared/cli/daemon_main.hpp"

namespace {

// glibc malloc for a small, long-running daemon. One arena: the agent's threads (libuv's pool,
// ZeroMQ's I/O thread, the WAL checkpointer) allocate little, and every extra arena keeps its own
// partly used heap resident. Fixed thresholds (setting them turns off glibc's dynamic ones, which
// rise after start-up's big frees): a free block of 128 KiB or more is mapped on its own and
// unmapped when freed, and the heap's top is given back from 128 KiB up.
void tune_malloc() noexcept {
  constexpr int k_threshold = 128 * 1024;
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, k_threshold);
  mallopt(M_TRIM_THRESHOLD, k_threshold);
}

// SQLite gives every connection's page cache a bulk block of 20 pages (~87 KiB) up front, all of
// it written (each slot's header) and so resident, whatever the cache holds. Without it a page is
// allocated when the cache first needs it; the spool's cache_size still bounds the total. Only
// settable before SQLite initialises (at the first open).
void tune_sqlite() noexcept {
  (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
}

} // namespace

int main(int argc, char** argv) {
  using medic::agent::config::AgentConfig;
  // What ran before main() (relocation, static initialisers) is done: release its pages and fence
  // the code the agent runs before the configuration is parsed, or the parse's peak adds to
  // theirs.
  (void)medic::agent::loop::release_startup_code();
  tune_malloc();
  tune_sqlite();
  // Hyperscan's compiler runs in a forked child: its code, tables and a heap of several MiB are
  // the child's, so they never count in the agent's RSS or peak RSS (see log_matcher.hpp).
  medic::agent::detect::set_compile_site(medic::agent::detect::CompileSite::child_process);
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
