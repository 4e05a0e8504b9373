// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/service_control.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>

#include "agent/config/agent_config.hpp"
#include "shared/cli/daemon_options.hpp"
#include "shared/security/curve_keys.hpp"

namespace medic::agent::loop {

namespace {

// main()'s argv: valid for the whole process, and null-terminated as execv wants it.
int g_argc = 0;
char** g_argv = nullptr;

// What a reload checks: the config loads and finishes exactly as at start, and the
// coordinator's public key resolves (its file may have been replaced). Runs on a threadpool
// thread: it reads files and compiles the rules, neither of which belongs on the loop.
Result<void> check_config(std::vector<std::string> words) {
  std::vector<char*> argv;
  argv.reserve(words.size() + 1);
  for (auto& word : words) {
    argv.push_back(word.data());
  }
  argv.push_back(nullptr);
  auto options = cli::parse_daemon_options(static_cast<int>(words.size()), argv.data());
  if (!options) {
    return fail(std::move(options).error());
  }
  config::AgentConfig fresh;
  auto schema = config::make_schema(fresh);
  if (auto loaded = cli::load_config(schema, *options, config::k_default_path); !loaded) {
    return loaded;
  }
  if (auto finished = config::finish(fresh); !finished) {
    return finished;
  }
  if (auto key = security::resolve_public_key(fresh.coordinator_key); !key) {
    return fail(std::move(key).error().context("coordinator.public_key"));
  }
  return {};
}

// The binary's own path, from /proc/self/exe. Executing that link itself would name the
// process "exe" (ps, pgrep, the journal); after an upgrade replaced the file, its path holds the
// new version, which a reload then starts (the postinst restarts the service anyway).
std::string own_binary() {
  std::array<char, 4096> path{};
  const auto n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (n <= 0) {
    return "/proc/self/exe";
  }
  std::string binary(path.data(), static_cast<std::size_t>(n));
  constexpr std::string_view k_deleted = " (deleted)";
  if (binary.ends_with(k_deleted)) {
    binary.resize(binary.size() - k_deleted.size());
  }
  return binary;
}

} // namespace

void remember_command_line(int argc, char** argv) {
  g_argc = argc;
  g_argv = argv;
}

struct ServiceControl::Validation {
  uv_work_t work{};
  ServiceControl* self = nullptr;
  std::vector<std::string> argv;
  std::optional<Error> error; // set by the threadpool thread, read on the loop after it
};

ServiceControl::ServiceControl(uv_loop_t& loop) : m_loop(loop), m_notifier(loop) {}

void ServiceControl::reload(std::function<void()> stop_agent) {
  if (m_stopping) {
    return;
  }
  if (m_validating) {
    spdlog::info("SIGHUP: a reload is already being checked; this one is ignored");
    return;
  }
  if (g_argv == nullptr) {
    spdlog::error("SIGHUP: cannot reload: the command line was not recorded");
    return;
  }
  auto validation = std::make_unique<Validation>();
  validation->self = this;
  validation->argv.assign(g_argv, g_argv + g_argc);
  validation->work.data = validation.get();
  const int queued = uv_queue_work(&m_loop, &validation->work, &ServiceControl::validate,
                                   &ServiceControl::validated);
  if (queued != 0) {
    spdlog::error("SIGHUP: cannot check the config: {}", uv_strerror(queued));
    return;
  }
  validation.release(); // owned by the request until validated() runs
  m_stop_agent = std::move(stop_agent);
  m_validating = true;
  spdlog::info("SIGHUP: checking the config before applying it");
  m_notifier.status("checking a reloaded config");
}

void ServiceControl::validate(uv_work_t* work) noexcept {
  auto* validation = static_cast<Validation*>(work->data);
  try {
    if (auto checked = check_config(validation->argv); !checked) {
      validation->error = std::move(checked).error();
    }
  } catch (const std::exception& e) {
    validation->error = Error(ErrorCode::config, e.what());
  }
}

void ServiceControl::validated(uv_work_t* work, int status) noexcept {
  std::unique_ptr<Validation> validation(static_cast<Validation*>(work->data));
  ServiceControl& self = *validation->self;
  self.m_validating = false;
  auto stop_agent = std::move(self.m_stop_agent);
  if (self.m_stopping || status == UV_ECANCELED) {
    return; // a stop signal came first: nothing to apply
  }
  if (validation->error) {
    spdlog::error("SIGHUP: the new config is refused, the running one stays: {}",
                  validation->error->message());
    self.m_notifier.status("running; the last reload was refused: " + validation->error->message());
    return;
  }
  spdlog::info("SIGHUP: the config is valid; restarting in place to apply it");
  self.m_notifier.reloading("reloading the config");
  self.m_reexec = true;
  if (stop_agent) {
    stop_agent();
  }
}

void ServiceControl::stopping() noexcept {
  if (m_stopping) {
    return;
  }
  m_stopping = true;
  if (m_reexec) {
    m_notifier.close(); // systemd waits for the new process's READY=1, not STOPPING=1
  } else {
    m_notifier.stopping("stopping");
  }
}

Result<void> ServiceControl::reexec() {
  if (g_argv == nullptr) {
    return fail(ErrorCode::internal, "re-executing: the command line was not recorded");
  }
  const std::string binary = own_binary();
  spdlog::info("re-executing {} to apply the reloaded config", binary);
  spdlog::default_logger()->flush();
  // Ignored dispositions survive execv: a second SIGHUP before the new image watches signals
  // must not kill it (SIGHUP's default action), and the new image's watcher replaces this.
  std::signal(SIGHUP, SIG_IGN);
  ::execv(binary.c_str(), g_argv);
  const int error = errno;
  return fail(ErrorCode::io, "re-executing " + binary + ": " + std::strerror(error) +
                                 " (a restart applies the new config)");
}

} // namespace medic::agent::loop
