// SPDX-License-Identifier: Apache-2.0
// ProcessSampler's discovery: reading pid files and scanning /proc for processes to track.
// Loop thread; runs every discovery interval and when a tracked process vanished, so it may
// allocate (a tracked process's open files), but it reads each candidate into fixed buffers.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>

#include <re2/re2.h>

#include "agent/sample/process_sampler.hpp"
#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::size_t k_stat_capacity = 1024;
constexpr std::size_t k_comm_bytes = 15; // TASK_COMM_LEN - 1

std::optional<pid_t> parse_pid(std::string_view text) noexcept {
  std::int64_t value = 0;
  if (!parse_i64(trim_blanks(text), value) || value <= 0 || value > 0x3fffffff) {
    return std::nullopt;
  }
  return static_cast<pid_t>(value);
}

std::optional<pid_t> read_pid_file(const std::string& path) {
  char buffer[64];
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::nullopt;
  }
  const ssize_t got = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (got <= 0) {
    return std::nullopt;
  }
  std::string_view text(buffer, static_cast<std::size_t>(got));
  const std::size_t end = text.find('\n');
  return parse_pid(text.substr(0, end));
}

} // namespace

Result<void> ProcessSampler::discover() {
  ++m_scans;
  for (Matcher& matcher : m_matchers) {
    matcher.added = 0;
  }
  for (Matcher& matcher : m_matchers) {
    if (!matcher.config->pid_file.empty()) {
      discover_pid_file(matcher);
    }
  }
  Result<void> scanned;
  if (m_scanning) {
    scanned = scan_proc();
  }
  for (Matcher& matcher : m_matchers) {
    // A process that vanished and a new one that appeared: the service was restarted.
    const std::size_t replaced = std::min(matcher.added, matcher.vanished);
    matcher.restarts += replaced;
    matcher.vanished -= replaced;
  }
  return scanned;
}

void ProcessSampler::discover_pid_file(Matcher& matcher) {
  const auto pid = read_pid_file(matcher.config->pid_file);
  if (!pid || is_tracked(matcher, *pid)) {
    // No file (the service is down or starting) leaves a live tracked process alone.
    return;
  }
  char name[32];
  std::snprintf(name, sizeof name, "%d/stat", static_cast<int>(*pid));
  const int proc_fd = ::open(m_proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0) {
    return;
  }
  const ssize_t got = read_file_at(proc_fd, name, m_stat_buffer);
  ::close(proc_fd);
  if (got <= 0) {
    return; // a stale pid file
  }
  const auto stat =
      parse_proc_stat(std::string_view(m_stat_buffer.data(), static_cast<std::size_t>(got)));
  if (!stat || is_gone(*stat)) {
    return;
  }
  // The file names another live process: the one tracked so far is replaced.
  matcher.vanished += matcher.tracked.size();
  matcher.tracked.clear();
  track(matcher, *pid, *stat);
}

Result<void> ProcessSampler::scan_proc() {
  DIR* dir = ::opendir(m_proc_root.c_str());
  if (dir == nullptr) {
    return fail(ErrorCode::io, errno_text("listing " + m_proc_root.string(), errno));
  }
  const int proc_fd = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (name.empty() || name.front() < '1' || name.front() > '9') {
      continue;
    }
    const auto pid = parse_pid(name);
    if (pid && *pid != m_self) {
      scan_pid(proc_fd, *pid);
    }
  }
  ::closedir(dir);
  return {};
}

void ProcessSampler::scan_pid(int proc_fd, pid_t pid) {
  bool wanted = false;
  for (const Matcher& matcher : m_matchers) {
    wanted = wanted ||
             (matcher.config->pid_file.empty() &&
              matcher.tracked.size() < matcher.config->max_processes && !is_tracked(matcher, pid));
  }
  if (!wanted) {
    return;
  }
  char name[32];
  std::snprintf(name, sizeof name, "%d/stat", static_cast<int>(pid));
  const ssize_t got = read_file_at(proc_fd, name, m_stat_buffer);
  if (got <= 0) {
    return; // exited meanwhile
  }
  const auto stat =
      parse_proc_stat(std::string_view(m_stat_buffer.data(), static_cast<std::size_t>(got)));
  if (!stat || is_gone(*stat)) {
    return;
  }
  m_cmdline.reset();
  m_executable.reset();
  for (Matcher& matcher : m_matchers) {
    if (matcher.config->pid_file.empty() &&
        matcher.tracked.size() < matcher.config->max_processes && !is_tracked(matcher, pid) &&
        matches(matcher, proc_fd, pid, *stat)) {
      track(matcher, pid, *stat);
    }
  }
}

bool ProcessSampler::matches(Matcher& matcher, int proc_fd, pid_t pid, const ProcStat& stat) {
  char name[32];
  const ProcessMatchConfig& config = *matcher.config;
  if (!config.process_name.empty()) {
    const std::string_view wanted = config.process_name;
    if (stat.comm == wanted) {
      return true;
    }
    // comm is cut at 15 bytes and can be renamed (prctl); the executable's name settles it.
    // A longer name can only be a process whose comm is its first 15 bytes; kernel threads
    // have no executable.
    if (is_kernel_thread(stat) ||
        (wanted.size() > k_comm_bytes && stat.comm != wanted.substr(0, k_comm_bytes))) {
      return false;
    }
    if (!m_executable) {
      std::snprintf(name, sizeof name, "%d/exe", static_cast<int>(pid));
      const ssize_t got = ::readlinkat(proc_fd, name, m_exe_buffer.data(), m_exe_buffer.size());
      m_executable = got > 0 ? executable_name(std::string_view(m_exe_buffer.data(),
                                                                static_cast<std::size_t>(got)))
                             : std::string_view();
    }
    return *m_executable == wanted;
  }
  if (matcher.regex) {
    if (!m_cmdline) {
      std::snprintf(name, sizeof name, "%d/cmdline", static_cast<int>(pid));
      const ssize_t got = read_file_at(proc_fd, name, m_cmdline_buffer);
      m_cmdline = got > 0 ? command_line_text(std::span<char>(m_cmdline_buffer.data(),
                                                              static_cast<std::size_t>(got)))
                          : std::string_view();
    }
    return !m_cmdline->empty() &&
           re2::RE2::PartialMatch(re2::StringPiece(m_cmdline->data(), m_cmdline->size()),
                                  *matcher.regex);
  }
  return false;
}

bool ProcessSampler::is_tracked(const Matcher& matcher, pid_t pid) const noexcept {
  return std::any_of(matcher.tracked.begin(), matcher.tracked.end(),
                     [pid](const Tracked& process) { return process.pid == pid; });
}

void ProcessSampler::track(Matcher& matcher, pid_t pid, const ProcStat& stat) {
  const std::filesystem::path dir = m_proc_root / std::to_string(pid);
  auto file = ProcFile::open(dir / "stat", k_stat_capacity);
  if (!file) {
    return; // exited meanwhile
  }
  Tracked process;
  process.pid = pid;
  process.start_ticks = stat.start_ticks;
  process.stat = std::move(*file);
  process.stat.set_short_read(ProcFile::ShortRead::is_the_end); // one line
  process.fd_dir = Fd(::open((dir / "fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  process.cpu_ticks = stat.utime_ticks + stat.stime_ticks;
  process.rss_pages = stat.rss_pages;
  process.open_fds = process.fd_dir.get() >= 0 ? count_fds(process.fd_dir.get()) : -1;
  matcher.tracked.push_back(std::move(process));
  ++matcher.added;
}

} // namespace medic::agent::sample
