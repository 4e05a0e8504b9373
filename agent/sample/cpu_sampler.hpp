// SPDX-License-Identifier: Apache-2.0
// Whole-machine and per-CPU usage from the `cpu` and `cpuN` lines of /proc/stat, as percentages
// of the time that passed between two samples. Called from the loop once a second, so a sample
// reads into a buffer allocated at open() and parses without allocating.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sample/proc_file.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::sample {

// Cumulative clock ticks (USER_HZ) since boot, summed over the online CPUs.
struct CpuTimes {
  std::uint64_t user = 0;
  std::uint64_t nice = 0;
  std::uint64_t system = 0;
  std::uint64_t idle = 0;
  std::uint64_t iowait = 0;
  std::uint64_t irq = 0;
  std::uint64_t softirq = 0;
  std::uint64_t steal = 0;

  // The kernel already counts guest and guest_nice time inside user and nice, so those columns
  // are not parsed and must never be added here: they would count twice.
  [[nodiscard]] std::uint64_t total() const noexcept {
    return user + nice + system + idle + iowait + irq + softirq + steal;
  }
  // Everything except idle and iowait (a CPU waiting on I/O is idle as far as work goes).
  [[nodiscard]] std::uint64_t busy() const noexcept { return total() - idle - iowait; }

  friend bool operator==(const CpuTimes&, const CpuTimes&) = default;
};

// Parses the aggregate `cpu ` line (not `cpu0`...) wherever it is in the text. Columns after
// user nice system idle appeared over kernel versions (iowait, irq, softirq in 2.6, steal in
// 2.6.11, guest later); missing ones read as 0, but fewer than 4 numbers is an error. Columns
// past the eighth are ignored. Errors name the line and the column that is wrong.
[[nodiscard]] Result<CpuTimes> parse_cpu_total(std::string_view proc_stat);

// The numbers after the name on one `cpu`/`cpuN` line, with the rules of parse_cpu_total;
// `line_name` ("cpu", "cpu3") names the line in errors.
[[nodiscard]] Result<CpuTimes> parse_cpu_columns(std::string_view line_name,
                                                 std::string_view columns);

// Percentages of the elapsed ticks; user_pct + system_pct + iowait_pct + steal_pct + idle_pct
// is 100 (give or take rounding) unless no tick elapsed, in which case every field is 0.
struct CpuUsage {
  double user_pct = 0;   // user + nice
  double system_pct = 0; // system + irq + softirq
  double iowait_pct = 0;
  double steal_pct = 0;
  double idle_pct = 0;
  double busy_pct = 0; // 100 - idle - iowait
};

// Never negative, never NaN. A counter lower in `after` than in `before` counts as 0 elapsed:
// iowait is documented to go backwards on some kernels, and the aggregate drops when a CPU goes
// offline. No elapsed tick at all (sampled twice within one tick) gives all zeros.
[[nodiscard]] CpuUsage cpu_usage(const CpuTimes& before, const CpuTimes& after) noexcept;

struct CpuConfig {
  // Also report cpu.core.* for every CPU (label cpu="N").
  bool per_core = true;
  // CPUs with a higher number are not reported (bounds samples per tick on huge machines).
  std::size_t max_cores = 1024;

  [[nodiscard]] Result<void> validate() const;
};

class CpuSampler {
public:
  explicit CpuSampler(std::filesystem::path proc_root = "/proc", CpuConfig config = {});

  // Opens <proc_root>/stat and checks it parses, so that a wrong root or an unreadable file
  // fails at start-up rather than on the first tick. Resets the previous sample.
  [[nodiscard]] Result<void> open();

  // Loop thread. nullopt on the first call after open() (nothing to compare with yet), then the
  // usage since the previous successful call. A failed call keeps the previous sample, so the
  // next success reports usage over the longer interval.
  [[nodiscard]] Result<std::optional<CpuUsage>> sample();

  // Loop thread. Adds cpu.* (and cpu.core.* with per_core) to `sink`, nothing on the first call
  // after open(). A CPU that went offline is skipped and starts over when it comes back; a CPU
  // numbered beyond those seen at open() (hot-plugged) is reported after the next open(). A bad
  // per-CPU line is skipped and its error returned after the other samples were added.
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);

private:
  struct Core {
    std::string label; // "0", "1", ...: label values point here
    CpuTimes previous;
    bool has_previous = false;
    bool seen = false;
  };

  [[nodiscard]] Result<CpuTimes> read_times();
  void size_cores(std::string_view text);
  [[nodiscard]] Result<void> sample_cores(SampleSink& sink, std::int64_t now_ms,
                                          std::string_view text);

  std::filesystem::path m_proc_root;
  CpuConfig m_config;
  ProcFile m_file;
  std::optional<CpuTimes> m_previous;
  std::vector<Core> m_cores;
  std::string_view m_text; // last read, into m_file's buffer
};

} // namespace medic::agent::sample
