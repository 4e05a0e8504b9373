// SPDX-License-Identifier: Apache-2.0
// Where samplers put what they measured. The agent loop implements it over its BatchBuilder;
// tests implement it with a recorder. Loop thread only: async samplers call add() from libuv
// completion callbacks, which run on the loop.
//
// Metric names are string literals. Label values may point into sampler-owned strings and are
// valid only during the add() call: the sink copies what it keeps. Times are the Unix
// milliseconds the caller passed to sample() (for async samplers: of the round that measured).
//
// | name                        | unit      | labels                 | sampler            |
// |-----------------------------|-----------|------------------------|--------------------|
// | cpu.usage_pct               | %         | -                      | CpuSampler         |
// | cpu.user_pct                | %         | -                      | (user + nice)      |
// | cpu.system_pct              | %         | -                      | (system+irq+softirq)|
// | cpu.iowait_pct              | %         | -                      |                    |
// | cpu.steal_pct               | %         | -                      |                    |
// | cpu.idle_pct                | %         | -                      |                    |
// | cpu.core.usage_pct ... cpu.core.idle_pct (same six) | % | cpu ("0", "1", ...) | per_core  |
// | load.1 / load.5 / load.15   | tasks     | -                      | LoadSampler        |
// | load.runnable               | tasks     | -                      | (now runnable)     |
// | load.tasks                  | tasks     | -                      | (all tasks)        |
// | mem.used_pct                | %         | -                      | MemorySampler      |
// | mem.total_bytes             | bytes     | -                      | (used from         |
// | mem.available_bytes         | bytes     | -                      |  MemAvailable)     |
// | swap.used_pct               | %         | -                      | (0 without swap)   |
// | disk.used_pct               | %         | mount, device, fstype  | DiskSpaceSampler   |
// | disk.free_bytes             | bytes     | mount, device, fstype  | (for non-root)     |
// | disk.total_bytes            | bytes     | mount, device, fstype  |                    |
// | disk.inodes_used_pct        | %         | mount, device, fstype  | (not if no inodes) |
// | disk.io.util_pct            | %         | device                 | DiskIoSampler      |
// | disk.io.read_await_ms       | ms        | device                 | (per read done)    |
// | disk.io.write_await_ms      | ms        | device                 | (per write done)   |
// | disk.io.read_ops_per_s      | 1/s       | device                 |                    |
// | disk.io.write_ops_per_s     | 1/s       | device                 |                    |
// | disk.io.read_bytes_per_s    | bytes/s   | device                 |                    |
// | disk.io.write_bytes_per_s   | bytes/s   | device                 |                    |
// | net.rx_bytes_per_s          | bytes/s   | interface              | NetworkSampler     |
// | net.tx_bytes_per_s          | bytes/s   | interface              |                    |
// | net.rx_packets_per_s        | 1/s       | interface              |                    |
// | net.tx_packets_per_s        | 1/s       | interface              |                    |
// | net.rx_errors_per_s         | 1/s       | interface              |                    |
// | net.tx_errors_per_s         | 1/s       | interface              |                    |
// | net.rx_drops_per_s          | 1/s       | interface              |                    |
// | net.tx_drops_per_s          | 1/s       | interface              |                    |
// | proc.up                     | 0/1       | process                | ProcessSampler     |
// | proc.count                  | processes | process                | (tracked, bounded) |
// | proc.rss_bytes              | bytes     | process                | (sum)              |
// | proc.cpu_pct                | %         | process                | (sum; 100 = 1 CPU) |
// | proc.open_fds               | fds       | process                | (sum; if readable) |
// | proc.restarts               | count     | process                | (since agent start)|
// | probe.up                    | 0/1       | probe, target          | ProbeSampler       |
// | probe.latency_ms            | ms        | probe, target          | (only when up)     |
// | probe.http_status           | code      | probe, target          | (HTTP, if answered)|
// | file.exists                 | 0/1       | file, path             | FileCheckSampler   |
// | file.age_s                  | s         | file, path             | (now - mtime)      |
// | file.size_bytes             | bytes     | file, path             |                    |
// | file.growth_bytes_per_s     | bytes/s   | file, path             | (< 0: truncated)   |
//
// Rates (per_s, util, await, cpu_pct, growth) need two readings: the first sample after open()
// or after a counter reset reports none for that entity.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::agent::sample {

class SampleSink {
public:
  virtual ~SampleSink() = default;

  virtual void add(std::string_view name, double value, std::int64_t time_ms,
                   std::span<const protocol::LabelView> labels) noexcept = 0;

  // Async samplers report failures of a round here (sync ones return them from sample()).
  // `source` is the sampler ("disk", "file", ...). Optional: the default drops the error.
  virtual void error(std::string_view source, const Error& error) noexcept {
    (void)source;
    (void)error;
  }
};

// Drops everything: for priming reads at open().
class NullSink final : public SampleSink {
public:
  void add(std::string_view, double, std::int64_t,
           std::span<const protocol::LabelView>) noexcept override {}
};

} // namespace medic::agent::sample
