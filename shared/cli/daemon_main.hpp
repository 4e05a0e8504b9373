// SPDX-License-Identifier: Apache-2.0
// The main() both daemons share: parse the command line, answer --help/--version/--help-config,
// load and check the config (exit 2 when it is bad), set up logging, run, and catch whatever
// escapes (exit 1).
#pragma once

#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>

#include <spdlog/spdlog.h>

#include "shared/build_info.hpp"
#include "shared/cli/config_source.hpp"
#include "shared/cli/daemon_options.hpp"
#include "shared/config/schema.hpp"
#include "shared/log/logging.hpp"

namespace medic::cli {

template <class Config>
struct DaemonProgram {
  const char* name;
  const char* summary;
  const char* default_config;
  std::function<config::Schema(Config&)> make_schema;
  std::function<Result<void>(Config&)> finish;
  std::function<std::string(const Config&)> log_level;
  std::function<Result<void>(const Config&)> run;
  // Optional: --print-public-key loads the config, then calls this instead of run.
  std::function<Result<void>(const Config&)> print_public_key = {};
  // Optional, called instead of run: also given where the config came from, to read it again.
  std::function<Result<void>(const Config&, ConfigSource<Config>)> run_reloadable = {};
};

// Reads the config again from the sources `options` named, and checks it as at start.
template <class Config>
Result<Config> reload_config(const DaemonProgram<Config>& program, const DaemonOptions& options) {
  Config config;
  auto schema = program.make_schema(config);
  if (auto loaded = load_config(schema, options, program.default_config); !loaded) {
    return fail(std::move(loaded).error());
  }
  if (auto finished = program.finish(config); !finished) {
    return fail(std::move(finished).error());
  }
  return config;
}

// The file load_config reads for `options`; empty when none.
inline std::string config_file(const DaemonOptions& options, const std::string& default_path) {
  if (options.config_path) {
    return *options.config_path;
  }
  std::error_code ec;
  return std::filesystem::exists(default_path, ec) ? default_path : std::string();
}

template <class Config>
int daemon_main(int argc, char** argv, const DaemonProgram<Config>& program) noexcept {
  try {
    auto options = parse_daemon_options(argc, argv);
    if (!options) {
      std::fprintf(stderr, "%s: %s\n", program.name, options.error().message().c_str());
      return k_exit_usage;
    }
    Config config;
    auto schema = program.make_schema(config);
    if (options->help) {
      std::string usage = daemon_usage(program.name, program.summary, program.default_config);
      if (program.print_public_key) {
        usage +=
            "\n--print-public-key prints this program's CURVE public key (creating the key\n"
            "pair at security.key_file if missing), for medicctl keys add.\n";
      }
      std::fputs(usage.c_str(), stdout);
      return k_exit_ok;
    }
    if (options->help_config) {
      std::fputs(("Config keys:\n" + schema.describe()).c_str(), stdout);
      return k_exit_ok;
    }
    if (options->version) {
      std::printf("%s %s\n", program.name, build_info::k_version);
      return k_exit_ok;
    }
    auto loaded = load_config(schema, *options, program.default_config);
    if (loaded) {
      loaded = program.finish(config);
    }
    if (!loaded) {
      std::fprintf(stderr, "%s: bad config: %s\n", program.name, loaded.error().message().c_str());
      return k_exit_usage;
    }
    if (options->check_config) {
      std::printf("config OK\n");
      return k_exit_ok;
    }
    if (options->print_public_key) {
      if (!program.print_public_key) {
        std::fprintf(stderr, "%s: --print-public-key is not an option of this program\n",
                     program.name);
        return k_exit_usage;
      }
      auto printed = program.print_public_key(config);
      if (!printed) {
        std::fprintf(stderr, "%s: %s\n", program.name, printed.error().message().c_str());
        return k_exit_failure;
      }
      return k_exit_ok;
    }
    auto level = log::parse_level(program.log_level(config));
    log::init(program.name, level ? *level : spdlog::level::info);
    Result<void> ran;
    if (program.run_reloadable) {
      ConfigSource<Config> source{
          config_file(*options, program.default_config),
          [&program, options = *options] { return reload_config(program, options); }};
      ran = program.run_reloadable(config, std::move(source));
    } else {
      ran = program.run(config);
    }
    if (!ran) {
      spdlog::critical("{}", ran.error().message());
      return k_exit_failure;
    }
    spdlog::info("stopped");
    return k_exit_ok;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: fatal: %s\n", program.name, e.what());
    return k_exit_failure;
  }
}

} // namespace medic::cli
