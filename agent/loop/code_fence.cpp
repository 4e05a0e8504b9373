// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/code_fence.hpp"

#include <link.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace medic::agent::loop {

namespace {

constexpr std::uintptr_t k_page = 4096;

} // namespace

bool valid_table(const CodeRunTable& table) noexcept {
  return std::memcmp(table.magic, CodeRunTable::k_magic, sizeof(table.magic)) == 0 &&
         table.capacity == CodeRunTable::k_capacity && table.count <= CodeRunTable::k_capacity;
}

std::size_t fence_code(const CodeRunTable& table, std::uintptr_t base) noexcept {
  if (!valid_table(table)) {
    return 0;
  }
  std::size_t fenced = 0;
  for (std::uint32_t i = 0; i < table.count; ++i) {
    const CodeRun& run = table.runs[i];
    void* at = reinterpret_cast<void*>(base + std::uintptr_t{run.first_page} * k_page);
    // A run outside any mapping fails with ENOMEM and changes nothing.
    const int advice = run.kind == CodeKind::start_up ? MADV_DONTDUMP : MADV_NOHUGEPAGE;
    if (run.pages != 0 && ::madvise(at, std::size_t{run.pages} * k_page, advice) == 0) {
      ++fenced;
    }
  }
  return fenced;
}

std::size_t outside_steady_runs(const CodeRunTable& table, std::uintptr_t base, AddressRange range,
                                std::span<AddressRange> out) noexcept {
  std::size_t written = 0;
  const auto put = [&](std::uintptr_t lo, std::uintptr_t hi) {
    if (lo < hi && written < out.size()) {
      out[written++] = AddressRange{lo, hi};
    }
  };
  std::uintptr_t from = range.lo; // what is left of the range starts here
  const std::uint32_t count = valid_table(table) ? table.count : 0;
  for (std::uint32_t i = 0; i < count && from < range.hi; ++i) {
    const CodeRun& run = table.runs[i];
    const std::uintptr_t lo = base + std::uintptr_t{run.first_page} * k_page;
    const std::uintptr_t hi = lo + std::uintptr_t{run.pages} * k_page;
    if (run.kind != CodeKind::steady || hi <= from) {
      continue; // start-up code, or before what is left
    }
    put(from, std::min(lo, range.hi)); // nothing when the run starts at or before `from`
    from = hi;
  }
  put(from, range.hi);
  return written;
}

std::uintptr_t executable_base() noexcept {
  std::uintptr_t base = 0;
  (void)dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) noexcept -> int {
        *static_cast<std::uintptr_t*>(data) = info->dlpi_addr;
        return 1; // the first object is the executable
      },
      &base);
  return base;
}

std::size_t fence_own_code() noexcept {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) {
    return 0;
  }
  return fence_code(medic_code_runs, executable_base());
}

} // namespace medic::agent::loop
