// SPDX-License-Identifier: Apache-2.0
// What a config reload changes: the config file's keys before and after, compared, and sorted
// into what applies live and what needs a restart. Pure functions (no I/O but reading the file
// in read_config_keys), any thread.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

namespace medic::coordinator::service {

// Dotted key -> the value as YAML text ("plan.max_attempts" -> "3"); a list is one value.
using ConfigKeys = std::map<std::string, std::string, std::less<>>;

// The file's keys; an empty path gives no keys. Errors name the file (and line:column).
[[nodiscard]] Result<ConfigKeys> read_config_keys(const std::filesystem::path& path);
[[nodiscard]] Result<ConfigKeys> parse_config_keys(std::string_view text, std::string_view origin);

// Keys read only at start: the listen address, storage, key file, admin socket, the Alertmanager
// input, /metrics, and the capacities the engines were built with.
[[nodiscard]] bool needs_restart(std::string_view key);

struct ConfigChanges {
  std::vector<std::string> applied;       // changed keys that apply now
  std::vector<std::string> needs_restart; // changed keys kept at their old value until a restart
  bool sinks = false;                     // an escalation sink setting changed: rebuild them
  bool log_level = false;

  [[nodiscard]] bool empty() const noexcept { return applied.empty() && needs_restart.empty(); }
};

// Keys added, removed or changed between `before` and `after`, by name.
[[nodiscard]] ConfigChanges compare_config_keys(const ConfigKeys& before, const ConfigKeys& after);

// One sentence for the log, the audit trail and the reply: "reloaded /etc/medic/coordinator.yaml:
// 12 diagnosis rules (were 10); changed: plan.max_attempts; changed but needs a restart:
// agents.listen".
[[nodiscard]] std::string describe_reload(std::string_view file, const ConfigChanges& changes,
                                          std::size_t rules_before, std::size_t rules_after);

} // namespace medic::coordinator::service
