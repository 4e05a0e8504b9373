// SPDX-License-Identifier: Apache-2.0
// The sampler and log-source keys. Rules are in rules_config.cpp.
#include "agent/config/sensing_config.hpp"

namespace medic::agent::config {

namespace {

using namespace std::chrono_literals;
using medic::config::FieldKind;
using medic::config::Record;
using medic::config::RecordField;

void add_disk_keys(medic::config::Schema& schema, SensingConfig& config) {
  auto& filter = config.disk.filter;
  schema.add_string_list("disk.mounts", filter.mounts,
                         "Only these mount points (empty: every local file system)");
  schema.add_string_list("disk.exclude_mounts", filter.exclude_mounts, "Never these mount points");
  schema.add_string_list("disk.fstypes", filter.fstypes,
                         "Only these file system types (empty: every non-pseudo, local one)");
  schema.add_string_list("disk.exclude_fstypes", filter.exclude_fstypes, "Never these types");
  schema.add_bool("disk.pseudo_fs", filter.pseudo_fs,
                  "Also measure pseudo file systems (tmpfs, overlay, ...)");
  schema.add_bool("disk.network_fs", filter.network_fs,
                  "Also measure network file systems (nfs, cifs; statvfs may hang on them)");
  schema.add_integer<std::int64_t>("disk.interval_ms", config.disk.interval_ms, 1000, 3'600'000,
                                   "Milliseconds between disk space rounds");
  schema.add_string_list("disk_io.devices", config.disk_io.devices,
                         "Only block devices matching these patterns (empty: every disk)");
  schema.add_string_list("disk_io.exclude_devices", config.disk_io.exclude_devices,
                         "Never these devices");
  schema.add_bool("disk_io.partitions", config.disk_io.partitions, "Also report partitions");
  schema.add_integer<std::int64_t>(
      "disk_io.discover_interval_ms", config.disk_io.discover_interval_ms, 0, 3'600'000,
      "Milliseconds between reads of /proc/diskstats to find new and removed devices (0: every "
      "round); between, each device's own /sys stat file is read");
  schema.add_string_list("network.interfaces", config.network.interfaces,
                         "Only interfaces matching these patterns (empty: all)");
  schema.add_string_list("network.exclude_interfaces", config.network.exclude_interfaces,
                         "Never these interfaces");
}

void add_process_keys(medic::config::Schema& schema, SensingConfig& config) {
  const std::vector<RecordField> fields = {
      {"name", FieldKind::text, true, "the `process` label", {}},
      {"process_name", FieldKind::text, false, "match comm or the executable's name", {}},
      {"pid_file", FieldKind::text, false, "match the pid in this file", {}},
      {"cmdline", FieldKind::text, false, "match this RE2 pattern in the command line", {}},
      {"max_processes", FieldKind::integer, false, "tracked at most (default 32)", {}},
  };
  schema.add_records("processes", fields,
                     "Services watched: up, count, RSS, CPU %, open fds, restarts",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       config.processes.processes.clear();
                       for (const auto& r : records) {
                         sample::ProcessMatchConfig match;
                         match.name = r.text("name");
                         match.process_name = r.text("process_name");
                         match.pid_file = r.text("pid_file");
                         match.cmdline = r.text("cmdline");
                         match.max_processes = static_cast<std::size_t>(
                             std::clamp<std::int64_t>(r.integer("max_processes", 32), 1, 4096));
                         if (auto ok = match.validate(r.where()); !ok) {
                           return ok;
                         }
                         config.processes.processes.push_back(std::move(match));
                       }
                       return {};
                     });
  schema.add_integer<std::int64_t>("sample.process_discovery_ms",
                                   config.processes.discovery_interval_ms, 1000, 3'600'000,
                                   "Milliseconds between scans of /proc for watched processes");
}

void add_probe_keys(medic::config::Schema& schema, SensingConfig& config) {
  const std::vector<RecordField> fields = {
      {"name", FieldKind::text, true, "the `probe` label", {}},
      {"kind", FieldKind::choice, true, "what to do", {"tcp", "http"}},
      {"host", FieldKind::text, false, "numeric address or localhost (default 127.0.0.1)", {}},
      {"port", FieldKind::integer, true, "TCP port", {}},
      {"path", FieldKind::text, false, "HTTP request target (default /)", {}},
      {"expect_status", FieldKind::integer, false, "HTTP status meaning up (default 2xx/3xx)", {}},
      {"timeout", FieldKind::duration, false, "whole attempt (default 2s)", {}},
      {"interval", FieldKind::duration, false, "between attempts (default 10s)", {}},
  };
  schema.add_records("probes", fields, "Local endpoints checked with a TCP connect or an HTTP GET",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       config.probes.probes.clear();
                       for (const auto& r : records) {
                         sample::ProbeConfig probe;
                         probe.name = r.text("name");
                         probe.kind = r.text("kind") == "http" ? sample::ProbeKind::http
                                                               : sample::ProbeKind::tcp;
                         probe.host = r.text("host", "127.0.0.1");
                         const std::int64_t port = r.integer("port");
                         if (port < 1 || port > 65535) {
                           return fail(r.error("port must be 1..65535"));
                         }
                         probe.port = static_cast<std::uint16_t>(port);
                         probe.path = r.text("path", "/");
                         probe.expected_status = static_cast<int>(r.integer("expect_status", 0));
                         probe.timeout_ms = r.duration("timeout", 2s).count();
                         probe.interval_ms = r.duration("interval", 10s).count();
                         if (auto ok = probe.validate(r.where()); !ok) {
                           return ok;
                         }
                         config.probes.probes.push_back(std::move(probe));
                       }
                       return {};
                     });
}

void add_file_keys(medic::config::Schema& schema, SensingConfig& config) {
  const std::vector<RecordField> fields = {
      {"name", FieldKind::text, true, "the `file` label", {}},
      {"path", FieldKind::text, true, "absolute path", {}},
  };
  schema.add_integer<std::int64_t>("sample.file_check_ms", config.files.interval_ms, 1000,
                                   3'600'000, "Milliseconds between file checks");
  schema.add_records("files", fields, "Files checked: exists, age, size, growth",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       config.files.files.clear();
                       for (const auto& r : records) {
                         config.files.files.push_back({r.text("name"), r.text("path")});
                       }
                       return config.files.validate();
                     });
}

Result<LogContextConfig> log_context(const Record& r) {
  constexpr std::int64_t k_max_context = 100;
  LogContextConfig context;
  context.source = r.text("name");
  for (const auto& [field, target] :
       {std::pair{"context_before", &context.before}, std::pair{"context_after", &context.after}}) {
    const std::int64_t value = r.integer(field, *target);
    if (value < 0 || value > k_max_context) {
      return fail(r.error(std::string(field) + ": " + std::to_string(value) +
                          " lines is outside 0.." + std::to_string(k_max_context)));
    }
    *target = static_cast<std::uint32_t>(value);
  }
  return context;
}

void add_log_keys(medic::config::Schema& schema, SensingConfig& config) {
  const std::vector<RecordField> fields = {
      {"name", FieldKind::text, true, "the source's name, in events and rule filters", {}},
      {"paths", FieldKind::text_list, true, "absolute glob patterns", {}},
      {"continuation",
       FieldKind::text,
       false,
       "RE2 pattern of lines that continue the previous record (e.g. '^\\s')",
       {}},
      {"max_record", FieldKind::size, false, "record bound (default 16KiB)", {}},
      {"start_at",
       FieldKind::choice,
       false,
       "where to start in files present at first start",
       {"end", "beginning"}},
      {"context_before",
       FieldKind::integer,
       false,
       "lines before a log rule's firing line sent with its signal (0..100, default 10)",
       {}},
      {"context_after",
       FieldKind::integer,
       false,
       "lines after it, waited for at most 2 s (0..100, default 0)",
       {}},
  };
  schema.add_records(
      "logs.sources", fields, "Log files to follow (rotation-safe, resumed after restarts)",
      [&config](const std::vector<Record>& records) -> Result<void> {
        config.tail.sources.clear();
        config.log_context.clear();
        for (const auto& r : records) {
          auto context = log_context(r);
          if (!context) {
            return fail(std::move(context).error());
          }
          config.log_context.push_back(std::move(*context));
          tail::TailSource source;
          source.name = r.text("name");
          source.globs = r.text_list("paths");
          source.continuation_pattern = r.text("continuation");
          source.max_record_bytes = r.size("max_record", 16 * 1024);
          source.start_at =
              r.text("start_at", "end") == "end" ? tail::StartAt::end : tail::StartAt::beginning;
          config.tail.sources.push_back(std::move(source));
        }
        return {};
      });
  schema.add_bool("logs.kernel", config.kernel_log,
                  "Also follow the kernel's log (/dev/kmsg) as the log source named kernel: "
                  "OOM-killer, segfault and I/O error lines where no syslog file has them");
  schema.add_bool("logs.mine_templates", config.mine_templates,
                  "Map every line to a template id (online Drain-style miner)");
  schema.add_bool("logs.new_error_templates", config.new_error_templates,
                  "Signal a never-seen template on an error-level line");
  schema.add_integer<std::uint32_t>("logs.max_events_per_flush", config.max_log_events_per_flush, 0,
                                    1000, "Matched lines shipped per batch at most");
  schema.add_duration("logs.poll_interval", config.tail.poll_interval, 100ms, 1min,
                      "How often followed files are checked besides inotify");
  schema.add_duration("logs.stat_interval", config.tail.stat_interval, 100ms, 1h,
                      "How often the path of a file in a directory inotify watches is checked "
                      "for a rename or a replacement (inotify reports those at once)");
  schema.add_duration("logs.read_interval", config.tail.read_interval, 0ms, 10s,
                      "Appended lines are read at most this often (one pass for every file that "
                      "changed meanwhile); adds at most this much latency; 0s reads at once");
  schema.add_integer<std::size_t>("logs.max_files", config.tail.max_files, 1, 10'000,
                                  "Files followed at most");
}

} // namespace

void add_rule_keys(medic::config::Schema& schema, SensingConfig& config); // rules_config.cpp

void add_sensing_keys(medic::config::Schema& schema, SensingConfig& config) {
  schema.add_bool("sample.cpu_per_core", config.cpu.per_core, "Also report every core");
  schema.add_integer<std::uint32_t>("sample.ship_every", config.ship_every, 1, 3600,
                                    "Ship one sampling round in N (detectors still see all)");
  add_disk_keys(schema, config);
  add_process_keys(schema, config);
  add_probe_keys(schema, config);
  add_file_keys(schema, config);
  add_log_keys(schema, config);
  add_rule_keys(schema, config);
}

} // namespace medic::agent::config
