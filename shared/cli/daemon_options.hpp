// SPDX-License-Identifier: Apache-2.0
// The command line both daemons share, and the config load order it drives:
// defaults < file < environment < --set.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::cli {

// Exit statuses shared by every medic program.
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failure = 1; // a runtime failure: address in use, database error
inline constexpr int k_exit_usage = 2;   // a bad command line or a bad config

struct DaemonOptions {
  std::optional<std::string> config_path;
  std::vector<std::string> overrides; // --set key=value, in order
  bool check_config = false;
  bool help = false;
  bool help_config = false;
  bool version = false;
  bool print_public_key = false; // the agent's enrolment helper
};

[[nodiscard]] Result<DaemonOptions> parse_daemon_options(int argc, char** argv);

[[nodiscard]] std::string daemon_usage(std::string_view program, std::string_view summary,
                                       std::string_view default_config);

// Applies file (the explicit --config, else `default_path` when it exists), then environment,
// then overrides. An explicit file that is missing is an error.
[[nodiscard]] Result<void> load_config(config::Schema& schema, const DaemonOptions& options,
                                       const std::string& default_path);

} // namespace medic::cli
