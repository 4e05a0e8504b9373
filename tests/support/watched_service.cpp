// SPDX-License-Identifier: Apache-2.0
#include "tests/support/watched_service.hpp"

#include <signal.h>
#include <unistd.h>

#include <system_error>

#include "tests/support/process.hpp"

namespace medic::test {

namespace fs = std::filesystem;

std::vector<pid_t> pids_running(const fs::path& path) {
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] < '1' || name[0] > '9') {
      continue;
    }
    std::error_code error;
    const auto exe = fs::read_symlink(entry.path() / "exe", error);
    if (!error && exe == path) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
}

void kill_all(const fs::path& path) {
  for (const pid_t pid : pids_running(path)) {
    ::kill(pid, SIGKILL);
  }
}

WatchedService::WatchedService(const fs::path& dir, const std::string& name)
    : m_path(dir / (name + "-" + std::to_string(::getpid()))) {
  fs::copy_file("/bin/sleep", m_path);
}

WatchedService::~WatchedService() {
  kill_all(m_path);
}

bool WatchedService::kill_now(std::chrono::milliseconds timeout) const {
  kill_all(m_path);
  return wait_until([&] { return !running(); }, timeout);
}

std::string WatchedService::start_argv() const {
  return "[/usr/bin/setsid, -f, " + m_path.string() + ", '3600']";
}

std::string fallback_heal_config(const WatchedService& service, const std::string& start_argv,
                                 const std::string& cooldown) {
  return "processes:\n"
         "  - {name: svc, process_name: " +
         service.path().filename().string() +
         "}\n"
         "sample:\n"
         "  process_discovery_ms: 1000\n"
         "heal:\n"
         "  fallback_after: 1s\n"
         "  backoff_base: 500ms\n"
         "  backoff_max: 1s\n"
         "  max_attempts: 3\n"
         "  healthy_for: 30s\n"
         "heal_rules:\n"
         "  - {id: restart-svc, on_rule: process-down, match: {process: svc}, action: start-svc}\n"
         "actions:\n"
         "  - name: start-svc\n"
         "    kind: exec\n"
         "    risk: low\n"
         "    timeout: 5s\n"
         "    cooldown: " +
         cooldown +
         "\n"
         "    argv: " +
         start_argv + "\n";
}

} // namespace medic::test
