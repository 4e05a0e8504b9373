// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/process_stat.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

// Positions after the comm field (field 3, the state, is position 0): field N is at N - 3.
constexpr std::size_t k_flags = 9 - 3;
constexpr std::size_t k_utime = 14 - 3;
constexpr std::size_t k_stime = 15 - 3;
constexpr std::size_t k_start = 22 - 3;
constexpr std::size_t k_rss = 24 - 3;
constexpr std::string_view k_deleted = " (deleted)";

} // namespace

Result<ProcStat> parse_proc_stat(std::string_view text) {
  text = text.substr(0, text.find('\n'));
  const std::size_t open = text.find('(');
  const std::size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return fail(ErrorCode::invalid_argument, "no '(comm)' field");
  }
  ProcStat stat;
  stat.comm = text.substr(open + 1, close - open - 1);
  std::string_view rest = text.substr(close + 1);
  std::array<std::uint64_t*, k_rss + 1> targets{};
  targets[k_flags] = &stat.flags;
  targets[k_utime] = &stat.utime_ticks;
  targets[k_stime] = &stat.stime_ticks;
  targets[k_start] = &stat.start_ticks;
  targets[k_rss] = &stat.rss_pages;
  for (std::size_t position = 0; position <= k_rss; ++position) {
    const std::string_view token = next_token(rest);
    if (token.empty()) {
      return fail(ErrorCode::invalid_argument,
                  "has " + std::to_string(position + 2) + " fields, at least 24 are required");
    }
    if (position == 0) {
      stat.state = token.front();
      continue;
    }
    // Some fields (priority, nice) are signed, others (vsize) need all 64 bits; only the used
    // ones are kept.
    std::int64_t signed_value = 0;
    std::uint64_t unsigned_value = 0;
    if (targets[position] != nullptr) {
      if (!parse_u64(token, *targets[position])) {
        return fail(ErrorCode::invalid_argument, "field " + std::to_string(position + 3) + " '" +
                                                     std::string(token) + "' is not a number");
      }
    } else if (!parse_i64(token, signed_value) && !parse_u64(token, unsigned_value)) {
      return fail(ErrorCode::invalid_argument, "field " + std::to_string(position + 3) + " '" +
                                                   std::string(token) + "' is not a number");
    }
  }
  return stat;
}

std::string_view command_line_text(std::span<char> raw) noexcept {
  std::size_t length = raw.size();
  while (length > 0 && raw[length - 1] == '\0') {
    --length;
  }
  for (std::size_t i = 0; i < length; ++i) {
    if (raw[i] == '\0') {
      raw[i] = ' ';
    }
  }
  return std::string_view(raw.data(), length);
}

std::string_view executable_name(std::string_view link_target) noexcept {
  if (link_target.ends_with(k_deleted)) {
    link_target.remove_suffix(k_deleted.size());
  }
  const std::size_t slash = link_target.rfind('/');
  return slash == std::string_view::npos ? link_target : link_target.substr(slash + 1);
}

ssize_t read_file_at(int dir_fd, const char* name, std::span<char> buffer) noexcept {
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  std::size_t length = 0;
  while (length < buffer.size()) {
    const ssize_t got = ::read(fd, buffer.data() + length, buffer.size() - length);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      const int error_number = errno;
      ::close(fd);
      errno = error_number;
      return -1;
    }
    if (got == 0) {
      break;
    }
    length += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return static_cast<ssize_t>(length);
}

} // namespace medic::agent::sample
