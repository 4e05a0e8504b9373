// SPDX-License-Identifier: Apache-2.0
// Watched processes, matched by name, pid file or command-line pattern: whether they run, how
// many, their memory, CPU and open files, and how often they were restarted.
//
// Cost: scanning all of /proc costs a few microseconds per process, far too much every second.
// So the scan (discovery) runs every `discovery_interval_ms`, at once when a tracked process
// vanished, and then 1, 2, 4... s later until a replacement appeared; in between, each tracked
// process costs one pread of its /proc/<pid>/stat (kept open) and one fstat of its /proc/<pid>/fd
// directory (kept open; Linux >= 6.2 reports the number of open fds as its size, older kernels fall
// back to reading the directory). A kept stat fd of a process that exited reads ESRCH, so a death
// is seen on the next tick and a reused pid is never mistaken for the old process. Loop thread
// only; discovery allocates, ticks in between do not.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/sample/proc_file.hpp"
#include "agent/sample/process_stat.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace re2 {
class RE2;
}

namespace medic::agent::sample {

// One watched service. Exactly one of process_name, pid_file and cmdline is set.
struct ProcessMatchConfig {
  std::string name;         // the `process` label value
  std::string process_name; // equals comm (first 15 bytes) or the executable's file name
  std::string pid_file;     // absolute path of a file holding the pid
  std::string cmdline;      // RE2 pattern searched in the command line, arguments joined by ' '
  std::size_t max_processes = 32; // tracked at most; more matching processes are not counted

  [[nodiscard]] Result<void> validate(std::string_view field) const;
};

struct ProcessConfig {
  std::vector<ProcessMatchConfig> processes;
  std::int64_t discovery_interval_ms = 10'000;

  [[nodiscard]] Result<void> validate() const;
};

class ProcessSampler {
public:
  explicit ProcessSampler(ProcessConfig config, std::filesystem::path proc_root = "/proc");
  ProcessSampler(const ProcessSampler&) = delete;
  ProcessSampler& operator=(const ProcessSampler&) = delete;
  ~ProcessSampler();

  // Validates the config (compiling the patterns), checks <proc_root> can be listed, and runs
  // the first discovery. A watched service that is not running is not an error (proc.up = 0).
  [[nodiscard]] Result<void> open();

  // Loop thread. Adds proc.* for every watched service. proc.cpu_pct needs two readings of a
  // process, so a process found this tick adds to it from the next tick on. Errors are the
  // discovery's (the /proc listing failed) or an unparsable stat line, after the samples.
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);

  [[nodiscard]] std::uint64_t scans() const noexcept { return m_scans; }
  // Pids tracked for the service at `index` in the config (tests).
  [[nodiscard]] std::vector<pid_t> tracked_pids(std::size_t index) const;

private:
  class Fd {
  public:
    explicit Fd(int fd = -1) noexcept : m_fd(fd) {}
    Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
    [[nodiscard]] int get() const noexcept { return m_fd; }

  private:
    int m_fd;
  };

  struct Tracked {
    pid_t pid = 0;
    std::uint64_t start_ticks = 0;
    ProcFile stat;
    Fd fd_dir;
    std::uint64_t cpu_ticks = 0;
    std::uint64_t cpu_delta = 0;
    std::uint64_t rss_pages = 0;
    std::int64_t open_fds = -1; // -1: not readable (another user's process, agent not root)
    bool has_cpu_delta = false;
  };

  struct Matcher {
    const ProcessMatchConfig* config = nullptr;
    std::unique_ptr<re2::RE2> regex;
    std::vector<Tracked> tracked;
    std::size_t vanished = 0; // gone and not yet replaced
    std::size_t added = 0;    // found by the current discovery
    std::uint64_t restarts = 0;
  };

  [[nodiscard]] bool due_for_scan(std::int64_t now_ms) const noexcept;
  void schedule_next_scan(std::int64_t now_ms, bool vanished) noexcept;
  [[nodiscard]] bool refresh(Matcher& matcher, Tracked& process, std::optional<Error>& error);
  [[nodiscard]] std::int64_t count_fds(int dir_fd);
  [[nodiscard]] Result<void> discover();
  void discover_pid_file(Matcher& matcher);
  [[nodiscard]] Result<void> scan_proc();
  void scan_pid(int proc_fd, pid_t pid);
  [[nodiscard]] bool matches(Matcher& matcher, int proc_fd, pid_t pid, const ProcStat& stat);
  [[nodiscard]] bool is_tracked(const Matcher& matcher, pid_t pid) const noexcept;
  void track(Matcher& matcher, pid_t pid, const ProcStat& stat);
  void report(SampleSink& sink, const Matcher& matcher, std::int64_t now_ms,
              std::int64_t elapsed_ms) noexcept;

  ProcessConfig m_config;
  std::filesystem::path m_proc_root;
  std::vector<Matcher> m_matchers;
  bool m_opened = false;
  bool m_fd_size_works = false; // fstat of /proc/<pid>/fd gives the fd count (Linux >= 6.2)
  bool m_scanning = false;      // some matcher needs the /proc scan
  pid_t m_self = 0;
  double m_ticks_per_s = 100;
  std::uint64_t m_page_bytes = 4096;
  std::int64_t m_last_scan_ms = 0;
  std::int64_t m_fast_delay_ms = 0; // > 0: a process vanished, rescan this soon after the last
  std::int64_t m_previous_ms = 0;
  bool m_has_previous = false;
  std::uint64_t m_scans = 0;
  // Scratch space of the discovery: the current pid's stat, command line and executable.
  std::array<char, 1024> m_stat_buffer{};
  std::array<char, 4096> m_cmdline_buffer{};
  std::array<char, 4096> m_dirents_buffer{};
  std::optional<std::string_view> m_cmdline;    // of the pid being scanned, read on demand
  std::optional<std::string_view> m_executable; // of the pid being scanned, read on demand
  std::array<char, 4096> m_exe_buffer{};
};

} // namespace medic::agent::sample
