// SPDX-License-Identifier: Apache-2.0
// The agent as a service: tells systemd how it is doing (READY, WATCHDOG, STATUS, STOPPING) and
// reloads its config on SIGHUP. A reload validates the config the agent was started with (same
// command line, same environment) on libuv's threadpool; a bad one is refused with the reason
// logged (file:line) and the running config stays; a good one is applied by stopping the agent
// the way SIGTERM does (last batch flushed, log positions saved in the spool) and executing the
// same binary with the same argv in the same process (systemd keeps the PID and waits for the
// new READY=1 after RELOADING=1). Every piece of state that must survive lives in the spool, so
// a re-execution is a restart without losing anything. Loop thread only, except where noted.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <vector>

#include "shared/error.hpp"
#include "shared/service/service_notifier.hpp"

namespace medic::agent::loop {

// Saved by main() before anything else: the command line a reload validates and re-executes.
// `argv` must stay valid for the life of the process (main's argv does).
void remember_command_line(int argc, char** argv);

class ServiceControl {
public:
  explicit ServiceControl(uv_loop_t& loop);
  ServiceControl(const ServiceControl&) = delete;
  ServiceControl& operator=(const ServiceControl&) = delete;
  ~ServiceControl() = default;

  [[nodiscard]] service::ServiceNotifier& notifier() noexcept { return m_notifier; }

  // SIGHUP. `stop_agent` is called, on the loop, only if the new config is valid.
  void reload(std::function<void()> stop_agent);
  // The agent is stopping (a signal, or a reload that passed): STOPPING=1 unless it will
  // re-execute, and no reload starts after this.
  void stopping() noexcept;

  // True once a valid reload stopped the agent: run_agent then calls reexec().
  [[nodiscard]] bool reexec_requested() const noexcept { return m_reexec; }

  // Replaces this process with the same binary and argv. Returns only on failure.
  [[nodiscard]] static Result<void> reexec();

private:
  struct Validation;
  static void validate(uv_work_t* work) noexcept;
  static void validated(uv_work_t* work, int status) noexcept;

  uv_loop_t& m_loop;
  service::ServiceNotifier m_notifier;
  std::function<void()> m_stop_agent;
  bool m_validating = false;
  bool m_stopping = false;
  bool m_reexec = false;
};

} // namespace medic::agent::loop
