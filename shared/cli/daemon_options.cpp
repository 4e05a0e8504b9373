// SPDX-License-Identifier: Apache-2.0
#include "shared/cli/daemon_options.hpp"

#include <filesystem>

namespace medic::cli {

Result<DaemonOptions> parse_daemon_options(int argc, char** argv) {
  DaemonOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view name) -> Result<std::string> {
      if (i + 1 >= argc) {
        return fail(ErrorCode::invalid_argument, std::string(name) + " needs a value");
      }
      return std::string(argv[++i]);
    };
    if (arg == "--config" || arg == "-c") {
      auto path = value(arg);
      if (!path) {
        return fail(std::move(path).error());
      }
      options.config_path = std::move(*path);
    } else if (arg.starts_with("--config=")) {
      options.config_path = std::string(arg.substr(9));
    } else if (arg == "--set") {
      auto assignment = value(arg);
      if (!assignment) {
        return fail(std::move(assignment).error());
      }
      options.overrides.push_back(std::move(*assignment));
    } else if (arg == "--check-config") {
      options.check_config = true;
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--help-config") {
      options.help_config = true;
    } else if (arg == "--print-public-key") {
      options.print_public_key = true;
    } else if (arg == "--version" || arg == "-V") {
      options.version = true;
    } else {
      return fail(ErrorCode::invalid_argument,
                  "unknown option '" + std::string(arg) + "' (try --help)");
    }
  }
  return options;
}

std::string daemon_usage(std::string_view program, std::string_view summary,
                         std::string_view default_config) {
  std::string text;
  text += "Usage: ";
  text += program;
  text += " [--config FILE] [--set KEY=VALUE]... [--check-config]\n\n";
  text += summary;
  text += "\n\nOptions:\n";
  text += "  -c, --config FILE   YAML config (default ";
  text += default_config;
  text += " if it exists)\n";
  text += "      --set KEY=VALUE override one key, e.g. --set log.level=debug\n";
  text += "      --check-config  validate the config and exit (0 valid, 2 invalid)\n";
  text += "      --help-config   list every config key with its default\n";
  text += "  -h, --help          show this help\n";
  text += "  -V, --version       show the version\n\n";
  text += "Exit status: 0 clean stop, 1 runtime failure, 2 bad command line or config.\n";
  return text;
}

Result<void> load_config(config::Schema& schema, const DaemonOptions& options,
                         const std::string& default_path) {
  if (options.config_path) {
    if (auto loaded = schema.load_file(*options.config_path); !loaded) {
      return loaded;
    }
  } else if (std::error_code ec; std::filesystem::exists(default_path, ec)) {
    if (auto loaded = schema.load_file(default_path); !loaded) {
      return loaded;
    }
  }
  if (auto env = schema.load_environment(); !env) {
    return env;
  }
  for (const auto& assignment : options.overrides) {
    if (auto applied = schema.load_override(assignment); !applied) {
      return applied;
    }
  }
  return {};
}

} // namespace medic::cli
