// SPDX-License-Identifier: Apache-2.0
// Memory and swap totals from /proc/meminfo. Called from the loop once a second, so a sample
// reads into a buffer allocated at open() and parses without allocating.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "agent/sample/proc_file.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::sample {

struct MemoryInfo {
  std::uint64_t total_bytes = 0;
  // What the kernel thinks can be allocated without swapping (MemAvailable), or an estimate
  // on kernels older than 3.14; see parse_meminfo.
  std::uint64_t available_bytes = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t swap_total_bytes = 0;
  std::uint64_t swap_free_bytes = 0;

  // (total - available) / total * 100, clamped to 0..100.
  [[nodiscard]] double used_pct() const noexcept;
  // 0 when there is no swap; clamped to 0..100.
  [[nodiscard]] double swap_used_pct() const noexcept;

  friend bool operator==(const MemoryInfo&, const MemoryInfo&) = default;
};

// Values in /proc/meminfo are in kB (KiB) and come back in bytes. MemTotal is required and must
// not be 0; other missing keys read as 0. Without MemAvailable (kernels < 3.14) the available
// memory is estimated as MemFree + Buffers + Cached + SReclaimable, which overstates it a little
// (Cached includes tmpfs and shared memory that cannot be dropped). Only the lines used are
// checked; a malformed one (not a number, not in kB, too large) is an error quoting the line.
[[nodiscard]] Result<MemoryInfo> parse_meminfo(std::string_view proc_meminfo);

class MemorySampler {
public:
  explicit MemorySampler(std::filesystem::path proc_root = "/proc");

  // Opens <proc_root>/meminfo and checks it parses, so that a wrong root or an unreadable file
  // fails at start-up rather than on the first tick.
  [[nodiscard]] Result<void> open();

  // Loop thread. Errors name the file.
  [[nodiscard]] Result<MemoryInfo> sample();

  // Loop thread. Adds mem.used_pct, mem.total_bytes, mem.available_bytes and swap.used_pct.
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);

private:
  std::filesystem::path m_proc_root;
  ProcFile m_file;
};

} // namespace medic::agent::sample
