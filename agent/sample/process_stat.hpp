// SPDX-License-Identifier: Apache-2.0
// Reading one process's /proc entries: the stat line, the command line, the executable's name.
// Used by ProcessSampler on the loop; the parsers do not allocate.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "shared/error.hpp"

namespace medic::agent::sample {

// The fields of /proc/<pid>/stat the process sampler uses.
struct ProcStat {
  std::string_view comm; // points into the parsed text; at most 15 bytes (TASK_COMM_LEN - 1)
  char state = '?';      // 'R', 'S', 'D', 'Z' (zombie), 'X' (dead)...
  std::uint64_t flags = 0;
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t start_ticks = 0; // since boot; tells a reused pid from the process it replaced
  std::uint64_t rss_pages = 0;
};

// "1234 (name with ) and spaces) S 1 ...": comm runs from the first '(' to the last ')', so any
// name parses. Needs the fields up to rss (24). Errors say which field is wrong.
[[nodiscard]] Result<ProcStat> parse_proc_stat(std::string_view text);

// PF_KTHREAD in the flags field: kernel threads have no executable or command line.
[[nodiscard]] constexpr bool is_kernel_thread(const ProcStat& stat) noexcept {
  return (stat.flags & 0x00200000U) != 0;
}
[[nodiscard]] constexpr bool is_gone(const ProcStat& stat) noexcept {
  return stat.state == 'Z' || stat.state == 'X' || stat.state == 'x';
}

// The command line as one string: the NUL separators become spaces and the trailing NUL goes.
// Rewrites `raw` in place and returns the view of it.
[[nodiscard]] std::string_view command_line_text(std::span<char> raw) noexcept;

// Last path component of an executable link target, without the " (deleted)" the kernel adds
// when the file was replaced (a package upgrade): "/usr/sbin/nginx (deleted)" -> "nginx".
[[nodiscard]] std::string_view executable_name(std::string_view link_target) noexcept;

// Reads the file `name` below the directory `dir_fd` into `buffer` (open, read, close), at most
// buffer.size() bytes. -1 with errno set on failure, else the length read.
[[nodiscard]] ssize_t read_file_at(int dir_fd, const char* name, std::span<char> buffer) noexcept;

} // namespace medic::agent::sample
