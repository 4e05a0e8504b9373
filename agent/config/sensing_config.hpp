// SPDX-License-Identifier: Apache-2.0
// What the agent watches: the samplers' settings, the log sources, and the detection rules
// (metric rules and log rules, on top of a built-in default set). Registered into the agent's
// key table by add_sensing_keys; finish_sensing merges and validates after loading.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/detect/metric_rules.hpp"
#include "agent/sample/cpu_sampler.hpp"
#include "agent/sample/disk_io_sampler.hpp"
#include "agent/sample/disk_space_sampler.hpp"
#include "agent/sample/file_check_sampler.hpp"
#include "agent/sample/network_sampler.hpp"
#include "agent/sample/probe_config.hpp"
#include "agent/sample/process_sampler.hpp"
#include "agent/tail/tail_types.hpp"
#include "protocol/message.hpp"
#include "shared/config/schema.hpp"

namespace medic::agent::config {

// A log rule as configured: the pattern and window go to agent::detect::LogRules, the rest
// labels the signals it produces.
struct LogRuleConfig {
  std::string id; // signal rule id, e.g. "oom-killer"
  std::string pattern;
  bool ignore_case = false;
  std::vector<std::string> sources; // empty: every log source
  std::uint32_t count = 1;
  std::chrono::milliseconds window{60'000};
  std::chrono::milliseconds quiet{60'000};
  protocol::Severity severity = protocol::Severity::medium;
  protocol::Category category = protocol::Category::resource;
  std::string summary;
};

// The lines around a log rule's firing line, attached to its signal as evidence (action
// "log-context"), per log source: `context_before` lines before it and up to `context_after`
// after it (each 0..100; both 0: none).
struct LogContextConfig {
  std::string source; // a logs.sources name
  std::uint32_t before = 10;
  std::uint32_t after = 0;
};

// The log source name of the kernel's log (logs.kernel), in rules' `sources` and in events.
inline constexpr std::string_view k_kernel_source = "kernel";

struct SensingConfig {
  sample::CpuConfig cpu;
  sample::DiskSpaceConfig disk;
  sample::DiskIoConfig disk_io;
  sample::NetworkConfig network;
  sample::ProcessConfig processes;
  sample::ProbesConfig probes;
  sample::FileChecksConfig files;
  std::uint32_t ship_every = 1; // ship one sampling round in N; detectors see every round

  tail::TailerOptions tail; // sources from `logs.sources`
  // `logs.kernel`: also follow the kernel's log (/dev/kmsg) as the log source named "kernel".
  bool kernel_log = false;
  std::string kernel_log_path = "/dev/kmsg"; // not a config key: tests and odd systems
  // One per logs.sources entry, by name; a source without an entry gets the defaults.
  std::vector<LogContextConfig> log_context;
  bool mine_templates = true;
  bool new_error_templates = true;
  std::uint32_t max_log_events_per_flush = 100; // more matched lines are counted, not shipped

  bool default_rules = true;             // start from the built-in rule set
  std::vector<detect::MetricRule> rules; // after finish_sensing: built-ins + the file's
  std::vector<LogRuleConfig> log_rules;  // ditto
};

void add_sensing_keys(medic::config::Schema& schema, SensingConfig& config);

// Merges the built-in rules (unless default_rules is false; a configured rule with a built-in's
// id replaces it) and validates what the key table cannot check alone.
[[nodiscard]] Result<void> finish_sensing(SensingConfig& config);

// The built-in rules as YAML (the same syntax as the config file's `rules` and `log_rules`).
[[nodiscard]] std::string_view default_rules_yaml() noexcept;

} // namespace medic::agent::config
