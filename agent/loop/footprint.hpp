// SPDX-License-Identifier: Apache-2.0
// The agent's own cost, shipped as `agent.*` samples: resident memory (VmRSS and its peak),
// CPU seconds used, and what the spool and the log pipeline hold or dropped. Reading it costs
// one pread of /proc/self/status and one getrusage. Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "agent/loop/code_fence.hpp"
#include "agent/sample/proc_file.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::loop {

struct FootprintReading {
  std::uint64_t rss_bytes = 0;
  std::uint64_t peak_rss_bytes = 0;
  double cpu_seconds = 0; // user + system since start
};

class Footprint {
public:
  explicit Footprint(std::string proc_root = "/proc") : m_proc_root(std::move(proc_root)) {}
  [[nodiscard]] Result<void> open();
  [[nodiscard]] Result<FootprintReading> read();

private:
  std::string m_proc_root;
  sample::ProcFile m_status;
};

// After each stage of start-up (see ReleasePolicy for later calls): unmaps the pages of executable
// code (r-xp file mappings: the program and its libraries) and the executable's read-only data
// (.rodata, unwind tables) from this process, and empties the page cache of the executable, so
// that only the pages the steady state touches come back (MADV_RANDOM: no read-ahead for data,
// which Linux 6.18 still does for code; an empty cache: nothing for the kernel's 64 KiB
// fault-around to map beside them). The first call also fences the code the order file lists
// (fence_own_code(), code_fence.hpp), so that a fault there maps listed code only. Start-up code
// (config parsing, pattern compilers) and the unused parts of big libraries then stop counting in
// RSS. Safe: these pages are never written, so dropping them loses nothing; the cost is one read
// from disk per page when it is next used. Writable data and RELRO (relocated data lives there)
// are left alone. Also gives the heap's free pages back (malloc_trim). Returns the number of
// mapped ranges it looked at.
//
// `ReleaseScope::rarely_run_code`, for releases once the steady state runs, keeps what it touches
// again at once: the pages of its code runs (code_fence.hpp) and the read-only data (whose
// steady-state pages lie among the rest: no order file places data). Dropped, the next ticks read
// them back from disk, each major fault reading ahead far into the executable: the release at
// tick 30 cost the loop about 7 ms of CPU over that tick and the two after it (footprint setup,
// agent alone; 44 major faults). With this scope it costs 1.3-2.7 ms at that tick (4-5 major
// faults, mostly the release's own code) and nothing after it. Releases during start-up drop
// those too (`ReleaseScope::all`): the first turns run code of the steady state's functions that
// the steady state does not run again.
enum class ReleaseScope : std::uint8_t { all, rarely_run_code };
std::size_t release_startup_code(ReleaseScope scope = ReleaseScope::all) noexcept;

// The address ranges release_startup_code(scope) would unmap now, at most out.size() of them;
// returns how many were written.
std::size_t release_ranges(ReleaseScope scope, std::span<AddressRange> out) noexcept;

// When to call release_startup_code() again after start-up. At fixed ticks first (seconds after
// start: the first turns still run code that runs once). Then whenever resident memory grew by
// `regrowth_bytes` over its lowest reading since the last release: code that runs rarely (the
// first signal and its log line, an action, a resend) otherwise stays resident for the rest of
// the agent's life. At most once every `min_gap_ticks`: each release reads the steady state's
// pages back from disk (1-2 MiB).
class ReleasePolicy {
public:
  struct Settings {
    std::array<std::uint64_t, 3> at_ticks{2, 6, 30};
    std::uint64_t regrowth_bytes = 512 * 1024;
    std::uint64_t min_gap_ticks = 60;
    // Releases at ticks up to this one drop everything (ReleaseScope::all); later ones,
    // ReleaseScope::rarely_run_code.
    std::uint64_t all_until_tick = 6;
  };
  ReleasePolicy() = default;
  explicit ReleasePolicy(Settings settings) : m_settings(settings) {}
  // At every tick (1, 2, ...): one of the fixed ticks.
  [[nodiscard]] bool scheduled(std::uint64_t tick) const noexcept;
  // At a footprint reading: past the fixed ticks, resident memory regrew (call released() once
  // done).
  [[nodiscard]] bool regrown(std::uint64_t tick, std::uint64_t rss_bytes) noexcept;
  // A release was made at `tick` (scheduled or regrown): the next reading starts a new low.
  void released(std::uint64_t tick) noexcept;
  // What a release at `tick` drops.
  [[nodiscard]] ReleaseScope scope(std::uint64_t tick) const noexcept {
    return tick <= m_settings.all_until_tick ? ReleaseScope::all : ReleaseScope::rarely_run_code;
  }

private:
  Settings m_settings;
  std::uint64_t m_low_bytes = 0; // 0: no reading since the last release
  std::uint64_t m_released_tick = 0;
};

// "VmRSS:  9588 kB" and "VmHWM:" from /proc/<pid>/status text, in bytes.
[[nodiscard]] Result<FootprintReading> parse_status_memory(std::string_view status);

} // namespace medic::agent::loop
