// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/process_sampler.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <re2/re2.h>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::size_t k_max_processes_limit = 1024;
constexpr std::int64_t k_min_discovery_interval_ms = 1000;
constexpr long k_proc_super_magic = 0x9fa0;
// After a tracked process vanished, scans come 1 s, 2 s, 4 s... later (up to the discovery
// interval) until a replacement shows up: a supervisor restarts a service within seconds, and
// restarts should be seen as soon as that, without scanning /proc often in quiet times.
constexpr std::int64_t k_first_rescan_ms = 1000;

// Linux >= 6.2 answers fstat of /proc/<pid>/fd with the number of open fds as st_size.
bool fd_dir_size_counts(const std::filesystem::path& proc_root) {
  struct statfs fs {};
  if (::statfs(proc_root.c_str(), &fs) != 0 || fs.f_type != k_proc_super_magic) {
    return false;
  }
  struct stat st {};
  return ::stat((proc_root / "self" / "fd").c_str(), &st) == 0 && st.st_size > 0;
}

Result<void> check_one_criterion(std::string_view field, const ProcessMatchConfig& match) {
  const int set = static_cast<int>(!match.process_name.empty()) +
                  static_cast<int>(!match.pid_file.empty()) +
                  static_cast<int>(!match.cmdline.empty());
  if (set != 1) {
    return fail(ErrorCode::config,
                std::string(field) + ": set exactly one of process_name, pid_file, cmdline");
  }
  return {};
}

} // namespace

Result<void> ProcessMatchConfig::validate(std::string_view field) const {
  const std::string where(field);
  if (auto ok = check_label_name(where + ".name", name); !ok) {
    return ok;
  }
  if (auto ok = check_one_criterion(where, *this); !ok) {
    return ok;
  }
  if (!process_name.empty() &&
      (process_name.find('/') != std::string::npos || process_name.size() > 255)) {
    return fail(ErrorCode::config, where + ".process_name: '" + process_name +
                                       "' is not a file name (no '/', at most 255 bytes)");
  }
  if (!pid_file.empty() && pid_file.front() != '/') {
    return fail(ErrorCode::config, where + ".pid_file: '" + pid_file + "' is not absolute");
  }
  if (!cmdline.empty()) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    const re2::RE2 regex(cmdline, options);
    if (!regex.ok()) {
      return fail(ErrorCode::config, where + ".cmdline: '" + cmdline +
                                         "' is not a valid RE2 pattern: " + regex.error());
    }
  }
  if (max_processes == 0 || max_processes > k_max_processes_limit) {
    return fail(ErrorCode::config, where + ".max_processes: must be between 1 and " +
                                       std::to_string(k_max_processes_limit));
  }
  return {};
}

Result<void> ProcessConfig::validate() const {
  if (discovery_interval_ms < k_min_discovery_interval_ms) {
    return fail(ErrorCode::config, "process.discovery_interval: must be at least 1 s, not " +
                                       std::to_string(discovery_interval_ms) + " ms");
  }
  for (std::size_t i = 0; i < processes.size(); ++i) {
    if (auto ok = processes[i].validate("processes[" + std::to_string(i) + "]"); !ok) {
      return ok;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (processes[j].name == processes[i].name) {
        return fail(ErrorCode::config, "processes[" + std::to_string(i) + "].name: '" +
                                           processes[i].name + "' is used twice");
      }
    }
  }
  return {};
}

ProcessSampler::Fd& ProcessSampler::Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

ProcessSampler::Fd::~Fd() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

ProcessSampler::ProcessSampler(ProcessConfig config, std::filesystem::path proc_root)
    : m_config(std::move(config)), m_proc_root(std::move(proc_root)) {}

ProcessSampler::~ProcessSampler() = default;

Result<void> ProcessSampler::open() {
  m_opened = false;
  m_matchers.clear();
  if (auto valid = m_config.validate(); !valid) {
    return valid;
  }
  DIR* dir = ::opendir(m_proc_root.c_str());
  if (dir == nullptr) {
    const int error_number = errno;
    return fail(error_number == ENOENT ? ErrorCode::not_found : ErrorCode::io,
                errno_text("listing " + m_proc_root.string(), error_number));
  }
  ::closedir(dir);
  m_fd_size_works = fd_dir_size_counts(m_proc_root);
  m_self = ::getpid();
  m_ticks_per_s = static_cast<double>(::sysconf(_SC_CLK_TCK));
  m_page_bytes = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  m_scanning = false;
  m_matchers.reserve(m_config.processes.size());
  for (const ProcessMatchConfig& match : m_config.processes) {
    Matcher& matcher = m_matchers.emplace_back();
    matcher.config = &match;
    matcher.tracked.reserve(match.max_processes);
    if (!match.cmdline.empty()) {
      re2::RE2::Options options;
      options.set_log_errors(false);
      matcher.regex = std::make_unique<re2::RE2>(match.cmdline, options);
    }
    m_scanning = m_scanning || match.pid_file.empty();
  }
  m_has_previous = false;
  m_opened = true;
  return discover();
}

Result<void> ProcessSampler::sample(SampleSink& sink, std::int64_t now_ms) {
  if (!m_opened) {
    return fail(ErrorCode::internal, "process sampler: sample() called before a successful open()");
  }
  std::optional<Error> first_error;
  bool vanished = false;
  for (Matcher& matcher : m_matchers) {
    const std::size_t before = matcher.tracked.size();
    std::erase_if(matcher.tracked,
                  [&](Tracked& process) { return !refresh(matcher, process, first_error); });
    matcher.vanished += before - matcher.tracked.size();
    vanished = vanished || matcher.tracked.size() < before;
  }
  if (!m_has_previous) {
    m_last_scan_ms = now_ms; // open() just ran a discovery
  }
  Result<void> discovered;
  if (vanished || due_for_scan(now_ms)) {
    discovered = discover();
    schedule_next_scan(now_ms, vanished);
  }
  const std::int64_t elapsed_ms = m_has_previous ? now_ms - m_previous_ms : 0;
  for (const Matcher& matcher : m_matchers) {
    report(sink, matcher, now_ms, elapsed_ms);
  }
  m_previous_ms = now_ms;
  m_has_previous = true;
  if (!discovered) {
    return discovered;
  }
  if (first_error) {
    return fail(std::move(*first_error));
  }
  return {};
}

bool ProcessSampler::due_for_scan(std::int64_t now_ms) const noexcept {
  return now_ms - m_last_scan_ms >= m_config.discovery_interval_ms ||
         (m_fast_delay_ms > 0 && now_ms - m_last_scan_ms >= m_fast_delay_ms);
}

void ProcessSampler::schedule_next_scan(std::int64_t now_ms, bool vanished) noexcept {
  m_last_scan_ms = now_ms;
  const bool waiting = std::any_of(m_matchers.begin(), m_matchers.end(),
                                   [](const Matcher& matcher) { return matcher.vanished > 0; });
  if (!waiting) {
    m_fast_delay_ms = 0;
  } else if (vanished) {
    m_fast_delay_ms = k_first_rescan_ms;
  } else {
    m_fast_delay_ms = std::min(m_fast_delay_ms * 2, m_config.discovery_interval_ms);
  }
}

bool ProcessSampler::refresh(Matcher& matcher, Tracked& process, std::optional<Error>& error) {
  (void)matcher;
  auto text = process.stat.read();
  if (!text) {
    // ESRCH: it exited. Anything else (EIO...) cannot be followed either.
    return false;
  }
  auto stat = parse_proc_stat(*text);
  if (!stat) {
    if (!error) {
      error = std::move(stat).error().context(process.stat.path().string());
    }
    return false;
  }
  if (is_gone(*stat) || stat->start_ticks != process.start_ticks) {
    return false;
  }
  const std::uint64_t ticks = stat->utime_ticks + stat->stime_ticks;
  process.has_cpu_delta = ticks >= process.cpu_ticks;
  process.cpu_delta = process.has_cpu_delta ? ticks - process.cpu_ticks : 0;
  process.cpu_ticks = ticks;
  process.rss_pages = stat->rss_pages;
  process.open_fds = process.fd_dir.get() >= 0 ? count_fds(process.fd_dir.get()) : -1;
  return true;
}

std::int64_t ProcessSampler::count_fds(int dir_fd) {
  if (m_fd_size_works) {
    struct stat st {};
    return ::fstat(dir_fd, &st) == 0 ? static_cast<std::int64_t>(st.st_size) : -1;
  }
  if (::lseek(dir_fd, 0, SEEK_SET) < 0) {
    return -1;
  }
  std::int64_t count = 0;
  for (;;) {
    const long got =
        ::syscall(SYS_getdents64, dir_fd, m_dirents_buffer.data(), m_dirents_buffer.size());
    if (got < 0) {
      return -1;
    }
    if (got == 0) {
      return count;
    }
    for (long offset = 0; offset < got;) {
      // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
      const char* entry = m_dirents_buffer.data() + offset;
      unsigned short length = 0;
      std::memcpy(&length, entry + 16, sizeof length);
      const char* name = entry + 19;
      if (std::strcmp(name, ".") != 0 && std::strcmp(name, "..") != 0) {
        ++count;
      }
      offset += length == 0 ? got : length;
    }
  }
}

void ProcessSampler::report(SampleSink& sink, const Matcher& matcher, std::int64_t now_ms,
                            std::int64_t elapsed_ms) noexcept {
  const protocol::LabelView labels[] = {{"process", matcher.config->name}};
  const std::size_t count = matcher.tracked.size();
  sink.add("proc.up", count > 0 ? 1.0 : 0.0, now_ms, labels);
  sink.add("proc.count", static_cast<double>(count), now_ms, labels);
  sink.add("proc.restarts", static_cast<double>(matcher.restarts), now_ms, labels);
  if (count == 0) {
    return;
  }
  std::uint64_t rss_pages = 0;
  std::uint64_t cpu_ticks = 0;
  bool any_cpu = false;
  std::int64_t fds = 0;
  bool any_fds = false;
  for (const Tracked& process : matcher.tracked) {
    rss_pages += process.rss_pages;
    cpu_ticks += process.has_cpu_delta ? process.cpu_delta : 0;
    any_cpu = any_cpu || process.has_cpu_delta;
    if (process.open_fds >= 0) {
      fds += process.open_fds;
      any_fds = true;
    }
  }
  sink.add("proc.rss_bytes", static_cast<double>(rss_pages * m_page_bytes), now_ms, labels);
  if (any_cpu && elapsed_ms > 0) {
    const double seconds = static_cast<double>(elapsed_ms) / 1000.0;
    sink.add("proc.cpu_pct", static_cast<double>(cpu_ticks) / m_ticks_per_s / seconds * 100.0,
             now_ms, labels);
  }
  if (any_fds) {
    sink.add("proc.open_fds", static_cast<double>(fds), now_ms, labels);
  }
}

std::vector<pid_t> ProcessSampler::tracked_pids(std::size_t index) const {
  std::vector<pid_t> pids;
  if (index < m_matchers.size()) {
    for (const Tracked& process : m_matchers[index].tracked) {
      pids.push_back(process.pid);
    }
  }
  return pids;
}

} // namespace medic::agent::sample
