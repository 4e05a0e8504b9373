// SPDX-License-Identifier: Apache-2.0
// The agent's own cost, shipped as `agent.*` samples: resident memory (VmRSS and its peak),
// CPU seconds used, and what the spool and the log pipeline hold or dropped. Reading it costs
// one pread of /proc/self/status and one getrusage. Loop thread only.
#pragma once

#include <cstdint>
#include <string>

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

// Once start-up is over: drops the pages of read-only file mappings (code r-xp; constants,
// symbol and unwind tables r--p; of the program and its libraries) from this process, so that
// only what the steady state touches comes back in (in the kernel's fault-around windows, 64 KiB
// here). Start-up code (config parsing, pattern compilers), the dynamic loader's symbol lookups
// and the unused parts of big libraries then stop counting in RSS. Safe: those pages were never
// written, so dropping them loses nothing (they are read again from the page cache on use); a
// mapping holding any copied-on-write page (RELRO data, a debugger's breakpoint) is left alone,
// as are writable mappings. Returns the number of mappings released.
std::size_t release_startup_code() noexcept;

// "VmRSS:  9588 kB" and "VmHWM:" from /proc/<pid>/status text, in bytes.
[[nodiscard]] Result<FootprintReading> parse_status_memory(std::string_view status);

} // namespace medic::agent::loop
