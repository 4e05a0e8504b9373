// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/footprint.hpp"

#include <sys/mman.h>
#include <sys/resource.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace medic::agent::loop {

namespace {

// The kB value of the line starting with `key`, in bytes.
Result<std::uint64_t> kilobytes(std::string_view status, std::string_view key) {
  const auto at = status.find(key);
  if (at == std::string_view::npos) {
    return fail(ErrorCode::io, "no " + std::string(key) + " line");
  }
  std::size_t i = at + key.size();
  while (i < status.size() && (status[i] == ' ' || status[i] == '\t')) {
    ++i;
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(status.data() + i, status.data() + status.size(), value);
  if (ec != std::errc() || end == status.data() + i) {
    return fail(ErrorCode::io, "bad " + std::string(key) + " line");
  }
  return value * 1024;
}

} // namespace

std::size_t release_startup_code() noexcept {
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) {
    return 0;
  }
  std::size_t released = 0;
  char line[512];
  while (std::fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long start = 0;
    unsigned long end = 0;
    char perms[5] = {};
    if (std::sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3 ||
        std::strcmp(perms, "r-xp") != 0 || std::strchr(line, '/') == nullptr) {
      continue; // only executable, private, file-backed mappings ([vdso] has no path)
    }
    void* address = reinterpret_cast<void*>(start);
    const std::size_t length = end - start;
    if (madvise(address, length, MADV_RANDOM) == 0 &&
        madvise(address, length, MADV_DONTNEED) == 0) {
      ++released;
    }
  }
  std::fclose(maps);
  return released;
}

Result<FootprintReading> parse_status_memory(std::string_view status) {
  auto rss = kilobytes(status, "\nVmRSS:");
  if (!rss) {
    return fail(std::move(rss).error());
  }
  auto peak = kilobytes(status, "\nVmHWM:");
  if (!peak) {
    return fail(std::move(peak).error());
  }
  return FootprintReading{*rss, *peak, 0};
}

Result<void> Footprint::open() {
  auto file = sample::ProcFile::open(m_proc_root + "/self/status", 4096);
  if (!file) {
    return fail(std::move(file).error());
  }
  m_status = std::move(*file);
  return read().map([](const FootprintReading&) {});
}

Result<FootprintReading> Footprint::read() {
  auto text = m_status.read();
  if (!text) {
    return fail(std::move(text).error());
  }
  auto reading = parse_status_memory(*text);
  if (!reading) {
    return fail(std::move(reading).error().context(m_status.path().string()));
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    const auto seconds = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    reading->cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  }
  return reading;
}

} // namespace medic::agent::loop
