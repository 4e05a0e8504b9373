// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/footprint.hpp"

#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "agent/loop/code_fence.hpp"

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

// Read-only, file-backed address ranges: what release_startup_code advises and drops. Fixed
// capacity: no allocation. A static agent's mappings are four or five ranges (adjacent mappings,
// such as the code fence_own_code() split, count as one); the parts of them it drops, about 50
// (the gaps between the steady state's code runs).
struct Ranges {
  static constexpr std::size_t k_capacity = 128;
  std::uintptr_t lo[k_capacity];
  std::uintptr_t hi[k_capacity];
  std::size_t size = 0;
  void add(std::uintptr_t from, std::uintptr_t to) noexcept {
    if (size > 0 && from == hi[size - 1] && to > from) {
      hi[size - 1] = to;
    } else if (to > from && size < k_capacity) {
      lo[size] = from;
      hi[size] = to;
      ++size;
    }
  }
  void advise(int advice) const noexcept {
    for (std::size_t i = 0; i < size; ++i) {
      (void)madvise(reinterpret_cast<void*>(lo[i]), hi[i] - lo[i], advice);
    }
  }
};

// Executable code: r-xp file mappings (the program, and in a dynamic build its libraries;
// [vdso] has no path).
void add_code_mappings(Ranges& ranges) noexcept {
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) {
    return;
  }
  char line[512];
  while (std::fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long start = 0;
    unsigned long end = 0;
    char perms[5] = {};
    if (std::sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 &&
        std::strcmp(perms, "r-xp") == 0 && std::strchr(line, '/') != nullptr) {
      ranges.add(start, end);
    }
  }
  std::fclose(maps);
}

// The executable's read-only, non-executable PT_LOAD segments (ELF headers, .rodata, unwind
// tables): clean file pages, never written. Its RELRO part is left alone: relocated at start,
// those pages are this process's own copies, and dropping them would bring back the file's
// unrelocated bytes (a RELRO range lies in a writable PT_LOAD, skipped anyway; checked too).
void add_read_only_data(Ranges& ranges) noexcept {
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
          if (!(lo < relro_hi && relro_lo < hi)) {
            static_cast<Ranges*>(data)->add(lo, hi);
          }
        }
        return 1; // the first object is the executable; libraries' data is not ours to drop
      },
      &ranges);
}

// Drops the executable's pages from the page cache, except those mapped somewhere.
void evict_executable_cache() noexcept {
  const int exe = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (exe >= 0) {
    (void)posix_fadvise(exe, 0, 0, POSIX_FADV_DONTNEED);
    ::close(exe);
  }
}

// The parts of `ranges` outside the steady state's code runs (code_fence.hpp), added to `out`.
void add_outside_steady_code(const Ranges& ranges, Ranges& out) noexcept {
  const std::uintptr_t base = executable_base();
  AddressRange parts[Ranges::k_capacity];
  for (std::size_t i = 0; i < ranges.size; ++i) {
    const std::size_t count =
        outside_steady_runs(medic_code_runs, base, AddressRange{ranges.lo[i], ranges.hi[i]}, parts);
    for (std::size_t j = 0; j < count; ++j) {
      out.add(parts[j].lo, parts[j].hi);
    }
  }
}

// The mappings a release with `scope` looks at (`mapped`), and the parts of them it unmaps.
void collect(ReleaseScope scope, Ranges& mapped, Ranges& dropped) noexcept {
  add_code_mappings(mapped);
  if (scope == ReleaseScope::all) {
    add_read_only_data(mapped);
    for (std::size_t i = 0; i < mapped.size; ++i) {
      dropped.add(mapped.lo[i], mapped.hi[i]);
    }
  } else {
    add_outside_steady_code(mapped, dropped);
  }
}

} // namespace

std::size_t release_ranges(ReleaseScope scope, std::span<AddressRange> out) noexcept {
  Ranges mapped;
  Ranges dropped;
  collect(scope, mapped, dropped);
  const std::size_t count = std::min(out.size(), dropped.size);
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = AddressRange{dropped.lo[i], dropped.hi[i]};
  }
  return count;
}

std::size_t release_startup_code(ReleaseScope scope) noexcept {
  malloc_trim(0); // the heap start-up freed
  // From the first release on, a fault in the code the order file lists maps only listed code.
  (void)fence_own_code();
  Ranges mapped;
  Ranges dropped;
  collect(scope, mapped, dropped);
  // No read-ahead on a fault (read_ahead_kb can be megabytes), then unmap. (Linux 6.18 still
  // reads ahead for a fault in executable mappings, up to the mapping's end; read-only data
  // obeys.)
  mapped.advise(MADV_RANDOM);
  dropped.advise(MADV_DONTNEED);
  // The kernel maps up to 64 KiB of cached pages around each fault (within the mapping): while
  // the whole file stays in the page cache, every page of read-only data (and of code outside
  // the fenced runs) the steady state touches brings 15 neighbours along. So empty the cache of
  // this file too: what is not mapped now goes. From then on a fault in read-only data reads its
  // one page. (Pages another process maps stay, and so do dirty pages of a binary written moments
  // ago, until written back.)
  evict_executable_cache();
  return mapped.size;
}

bool ReleasePolicy::scheduled(std::uint64_t tick) const noexcept {
  return std::find(m_settings.at_ticks.begin(), m_settings.at_ticks.end(), tick) !=
         m_settings.at_ticks.end();
}

bool ReleasePolicy::regrown(std::uint64_t tick, std::uint64_t rss_bytes) noexcept {
  if (tick <= m_settings.at_ticks.back()) {
    return false; // still on the fixed schedule
  }
  if (m_low_bytes == 0 || rss_bytes < m_low_bytes) {
    m_low_bytes = rss_bytes;
    return false;
  }
  if (rss_bytes - m_low_bytes < m_settings.regrowth_bytes ||
      tick - m_released_tick < m_settings.min_gap_ticks) {
    return false;
  }
  return true;
}

void ReleasePolicy::released(std::uint64_t tick) noexcept {
  m_released_tick = tick;
  m_low_bytes = 0;
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
