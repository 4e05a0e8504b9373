// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/footprint.hpp"

#include <link.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
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

// The executable's read-only, non-executable PT_LOAD segments (ELF headers, .rodata, unwind
// tables): clean file pages, never written. Its RELRO part is left alone: relocated at start,
// those pages are this process's own copies, and dropping them would bring back the file's
// unrelocated bytes (a RELRO range lies in a writable PT_LOAD, skipped anyway; checked too).
std::size_t release_read_only_data() noexcept {
  std::size_t released = 0;
  (void)dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) noexcept -> int {
        const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
        std::uintptr_t relro_lo = 0;
        std::uintptr_t relro_hi = 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_GNU_RELRO) {
            relro_lo = (info->dlpi_addr + ph.p_vaddr) & ~(page - 1);
            relro_hi = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + page - 1) & ~(page - 1);
          }
        }
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || (ph.p_flags & (PF_W | PF_X)) != 0) {
            continue;
          }
          // Whole pages inside the segment's file bytes only.
          const std::uintptr_t lo = (info->dlpi_addr + ph.p_vaddr + page - 1) & ~(page - 1);
          const std::uintptr_t hi = (info->dlpi_addr + ph.p_vaddr + ph.p_filesz) & ~(page - 1);
          if (hi <= lo || (lo < relro_hi && relro_lo < hi)) {
            continue;
          }
          if (madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED) == 0) {
            ++*static_cast<std::size_t*>(data);
          }
        }
        return 1; // the first object is the executable; libraries' data is not ours to drop
      },
      &released);
  return released;
}

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
  return released + release_read_only_data();
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
