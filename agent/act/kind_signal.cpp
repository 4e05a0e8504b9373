// SPDX-License-Identifier: Apache-2.0
#include "agent/act/kind_signal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include <re2/re2.h>

#include "agent/act/params.hpp"
#include "agent/sample/process_stat.hpp"
#include "agent/sample/text_scan.hpp"

namespace medic::agent::act {

namespace {

using sample::ProcStat;

constexpr std::size_t k_comm_bytes = 15; // TASK_COMM_LEN - 1
constexpr std::size_t k_max_pid_list = 32;

struct Candidate {
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;
};

// Scratch buffers of one scan (threadpool: one per preparation).
struct Buffers {
  std::array<char, 1024> stat{};
  std::array<char, 4096> cmdline{};
  std::array<char, 4096> exe{};
};

std::optional<pid_t> parse_pid(std::string_view text) noexcept {
  std::int64_t value = 0;
  if (!sample::parse_i64(sample::trim_blanks(text), value) || value <= 0 || value > 0x3fffffff) {
    return std::nullopt;
  }
  return static_cast<pid_t>(value);
}

// The stat of `pid` under `proc_fd` when it is a process the kind may signal.
std::optional<ProcStat> signallable(int proc_fd, pid_t pid, pid_t self, Buffers& buffers) {
  if (pid <= 1 || pid == self) {
    return std::nullopt;
  }
  char name[32];
  std::snprintf(name, sizeof name, "%d/stat", static_cast<int>(pid));
  const ssize_t got = sample::read_file_at(proc_fd, name, buffers.stat);
  if (got <= 0) {
    return std::nullopt;
  }
  auto stat =
      sample::parse_proc_stat(std::string_view(buffers.stat.data(), static_cast<std::size_t>(got)));
  if (!stat || sample::is_kernel_thread(*stat) || sample::is_gone(*stat)) {
    return std::nullopt;
  }
  return *stat;
}

bool name_matches(int proc_fd, pid_t pid, const ProcStat& stat, std::string_view wanted,
                  Buffers& buffers) {
  if (stat.comm == wanted) {
    return true;
  }
  if (wanted.size() > k_comm_bytes && stat.comm != wanted.substr(0, k_comm_bytes)) {
    return false; // comm is the first 15 bytes of the name, unless renamed (prctl)
  }
  char name[32];
  std::snprintf(name, sizeof name, "%d/exe", static_cast<int>(pid));
  const ssize_t got = ::readlinkat(proc_fd, name, buffers.exe.data(), buffers.exe.size());
  return got > 0 && sample::executable_name(std::string_view(
                        buffers.exe.data(), static_cast<std::size_t>(got))) == wanted;
}

bool cmdline_matches(int proc_fd, pid_t pid, const re2::RE2& regex, Buffers& buffers) {
  char name[32];
  std::snprintf(name, sizeof name, "%d/cmdline", static_cast<int>(pid));
  const ssize_t got = sample::read_file_at(proc_fd, name, buffers.cmdline);
  if (got <= 0) {
    return false;
  }
  const std::string_view text = sample::command_line_text(
      std::span<char>(buffers.cmdline.data(), static_cast<std::size_t>(got)));
  return !text.empty() && re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), regex);
}

// Every process under proc_fd that `match` accepts, sorted by pid.
template <class Match>
std::vector<Candidate> scan(int proc_fd, pid_t self, Buffers& buffers, Match match) {
  std::vector<Candidate> found;
  const int dir_fd = ::dup(proc_fd);
  DIR* dir = dir_fd >= 0 ? ::fdopendir(dir_fd) : nullptr;
  if (dir == nullptr) {
    if (dir_fd >= 0) {
      ::close(dir_fd);
    }
    return found;
  }
  while (const dirent* entry = ::readdir(dir)) {
    const auto pid = parse_pid(entry->d_name);
    if (!pid) {
      continue;
    }
    const auto stat = signallable(proc_fd, *pid, self, buffers);
    if (stat && match(*pid, *stat)) {
      found.push_back({*pid, stat->start_ticks});
    }
  }
  ::closedir(dir);
  std::sort(found.begin(), found.end(),
            [](const Candidate& a, const Candidate& b) { return a.pid < b.pid; });
  return found;
}

Result<pid_t> read_pid_file(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return fail(ErrorCode::invalid_argument, "pid file " + quote_value(path) + " is not absolute");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return fail(ErrorCode::io, errno_text("reading pid file " + path, errno));
  }
  char buffer[64];
  const ssize_t got = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  const std::string_view text(buffer, got > 0 ? static_cast<std::size_t>(got) : 0);
  const auto pid = parse_pid(text.substr(0, text.find('\n')));
  if (!pid) {
    return fail(ErrorCode::invalid_argument, "pid file " + path + " holds no pid");
  }
  return *pid;
}

std::string signal_name(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return std::to_string(signal) +
         (abbreviation != nullptr ? " (SIG" + std::string(abbreviation) + ")" : std::string());
}

// Opens a pidfd for each candidate still the same process (same start time) as when matched.
std::vector<SignalTarget> pin_targets(int proc_fd, const std::vector<Candidate>& found, pid_t self,
                                      bool use_pidfd, Buffers& buffers) {
  std::vector<SignalTarget> targets;
  for (const Candidate& candidate : found) {
    SignalTarget target{candidate.pid, -1};
    if (use_pidfd) {
      target.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, candidate.pid, 0));
      if (target.pidfd < 0 && errno != ENOSYS) {
        continue; // gone
      }
      const auto again = signallable(proc_fd, candidate.pid, self, buffers);
      if (!again || again->start_ticks != candidate.start_ticks) {
        if (target.pidfd >= 0) {
          ::close(target.pidfd);
        }
        continue; // exited, or the pid now names another process
      }
    }
    targets.push_back(target);
  }
  return targets;
}

// The single process a pid_file or pid selector names (none when it is not signallable).
Result<std::vector<Candidate>> select_one(const SignalSpec& spec, const BoundParams& params,
                                          const PrepareContext& ctx, int proc_fd, Buffers& buffers,
                                          std::string& selector) {
  Result<pid_t> pid = fail(ErrorCode::invalid_argument, "no process selector");
  if (!spec.pid_file.empty()) {
    const std::string path = expand_value(spec.pid_file, params);
    selector = "pid_file " + quote_value(path);
    pid = read_pid_file(path);
  } else if (!spec.pid.empty()) {
    const std::string text = expand_value(spec.pid, params);
    selector = "pid " + quote_value(text);
    const auto parsed = parse_pid(text);
    pid = parsed ? Result<pid_t>(*parsed)
                 : fail(ErrorCode::invalid_argument, quote_value(text) + " is not a pid");
  }
  if (!pid) {
    return fail(std::move(pid).error());
  }
  if (*pid == 1 || *pid == ctx.self) {
    return fail(ErrorCode::permission, "pid " + std::to_string(*pid) + " is never signalled (" +
                                           (*pid == 1 ? "init" : "the agent itself") + ")");
  }
  std::vector<Candidate> found;
  if (const auto stat = signallable(proc_fd, *pid, ctx.self, buffers)) {
    found.push_back({*pid, stat->start_ticks});
  }
  return found;
}

// The matching processes, and how they were chosen in `selector` ("process_name \"nginx\"").
Result<std::vector<Candidate>> select(const SignalSpec& spec, const BoundParams& params,
                                      const PrepareContext& ctx, int proc_fd, Buffers& buffers,
                                      std::string& selector) {
  if (!spec.process_name.empty()) {
    const std::string name = expand_value(spec.process_name, params);
    selector = "process_name " + quote_value(name);
    if (name.empty()) {
      return fail(ErrorCode::invalid_argument, "empty process_name");
    }
    return scan(proc_fd, ctx.self, buffers, [&](pid_t pid, const ProcStat& stat) {
      return name_matches(proc_fd, pid, stat, name, buffers);
    });
  }
  if (!spec.cmdline.empty()) {
    const std::string pattern = expand_value(spec.cmdline, params);
    selector = "cmdline " + quote_value(pattern);
    re2::RE2::Options options;
    options.set_log_errors(false);
    const re2::RE2 regex(pattern, options);
    if (pattern.empty() || !regex.ok()) {
      return fail(ErrorCode::invalid_argument,
                  "cmdline pattern does not compile: " + regex.error());
    }
    return scan(proc_fd, ctx.self, buffers, [&](pid_t pid, const ProcStat&) {
      return cmdline_matches(proc_fd, pid, regex, buffers);
    });
  }
  return select_one(spec, params, ctx, proc_fd, buffers, selector);
}

} // namespace

std::string pid_list(const std::vector<pid_t>& pids) {
  std::string text;
  for (std::size_t i = 0; i < pids.size() && i < k_max_pid_list; ++i) {
    text += (i == 0 ? "" : ", ") + std::to_string(pids[i]);
  }
  if (pids.size() > k_max_pid_list) {
    text += ", ... (" + std::to_string(pids.size()) + " in all)";
  }
  return text;
}

Prepared prepare_signal(const SignalSpec& spec, const BoundParams& params,
                        const PrepareContext& ctx) {
  if (spec.signal < 1 || spec.signal > SIGRTMAX) {
    return Prepared::refused("signal: " + std::to_string(spec.signal) + " is not a signal");
  }
  const int proc_fd = ::open(ctx.proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0) {
    return Prepared::finished(RunStatus::failed, {},
                              errno_text("signal: opening " + ctx.proc_root, errno));
  }
  Buffers buffers;
  std::string selector;
  auto found = select(spec, params, ctx, proc_fd, buffers, selector);
  if (!found) {
    ::close(proc_fd);
    return Prepared::refused("signal: " + selector + (selector.empty() ? "" : ": ") +
                             found.error().message());
  }
  const std::size_t matched = found->size();
  if (found->size() > k_max_signal_targets) {
    found->resize(k_max_signal_targets);
  }
  Prepared prepared;
  prepared.targets = pin_targets(proc_fd, *found, ctx.self, ctx.proc_root == "/proc", buffers);
  ::close(proc_fd);
  if (prepared.targets.empty()) {
    return Prepared::finished(RunStatus::failed,
                              "signal " + signal_name(spec.signal) + " to " + selector,
                              "no process matched " + selector);
  }
  std::vector<pid_t> pids;
  for (const SignalTarget& target : prepared.targets) {
    pids.push_back(target.pid);
  }
  prepared.next = NextStep::signal;
  prepared.signal = spec.signal;
  prepared.plan = "signal " + signal_name(spec.signal) + " to pids " + pid_list(pids) +
                  " matched by " + selector;
  if (matched > k_max_signal_targets) {
    prepared.plan += " (the first " + std::to_string(k_max_signal_targets) + " of " +
                     std::to_string(matched) + ")";
  }
  return prepared;
}

SignalResult send_signals(Prepared& prepared) noexcept {
  SignalResult result;
  try {
    for (const SignalTarget& target : prepared.targets) {
      const long rc = target.pidfd >= 0 ? ::syscall(SYS_pidfd_send_signal, target.pidfd,
                                                    prepared.signal, nullptr, 0)
                                        : ::kill(target.pid, prepared.signal);
      if (rc == 0) {
        result.signalled.push_back(target.pid);
      } else if (errno == ESRCH) {
        result.gone.push_back(target.pid);
      } else {
        result.errors += (result.errors.empty() ? "" : "; ") + std::string("pid ") +
                         std::to_string(target.pid) + ": " + std::strerror(errno);
      }
    }
  } catch (...) {
    result.errors += "out of memory";
  }
  prepared.close_targets();
  return result;
}

} // namespace medic::agent::act
