// SPDX-License-Identifier: Apache-2.0
// Disk I/O per block device from /proc/diskstats: utilisation, average wait per request, operations
// and bytes per second. Whole disks only by default (a partition repeats part of its disk's
// counters): a name is a whole disk when <sys_root>/block/<name> exists, checked once when the
// name first appears. Loop thread; a sample reads into a buffer allocated at open() and parses
// without allocating while the set of devices stays the same.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sample/named_slots.hpp"
#include "agent/sample/proc_file.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::sample {

struct DiskIoConfig {
  // Only devices matching one of these patterns ('*', '?') when not empty.
  std::vector<std::string> devices;
  // Never these: loop devices (snaps, images), RAM disks and compressed RAM swap are not disks.
  std::vector<std::string> exclude_devices{"loop*", "ram*", "zram*"};
  // Also report partitions (and other names without a /sys/block entry).
  bool partitions = false;
  // Devices reported at most; more are ignored (and never grow memory).
  std::size_t max_devices = 64;

  [[nodiscard]] Result<void> validate() const;
};

// Cumulative counters of one /proc/diskstats line. Sectors are always 512 bytes there, whatever
// the device's own sector size. The millisecond columns are 32-bit in the kernel and wrap.
struct DiskCounters {
  std::uint64_t reads = 0;
  std::uint64_t read_sectors = 0;
  std::uint64_t read_ms = 0;
  std::uint64_t writes = 0;
  std::uint64_t write_sectors = 0;
  std::uint64_t write_ms = 0;
  std::uint64_t io_ms = 0; // time with at least one request in flight

  friend bool operator==(const DiskCounters&, const DiskCounters&) = default;
};

// One line: "major minor name" then at least 11 numbers (kernels since 2.6.25; 4.18 added
// discard and 5.5 flush columns, ignored). `name` points into `line`. The error says what is
// wrong without file or line, which the caller adds.
[[nodiscard]] Result<DiskCounters> parse_diskstats_line(std::string_view line,
                                                        std::string_view& name);

class DiskIoSampler {
public:
  explicit DiskIoSampler(DiskIoConfig config = {}, std::filesystem::path proc_root = "/proc",
                         std::filesystem::path sys_root = "/sys");

  // Validates the config, opens <proc_root>/diskstats and checks it parses; without
  // `partitions`, also checks that <sys_root>/block is a directory.
  [[nodiscard]] Result<void> open();

  // Loop thread. Adds disk.io.* per device, none for a device on its first reading, after a
  // counter reset (re-created device), or when `now_ms` did not advance. A malformed line is
  // skipped and its error (naming file and line) returned after the other devices were added.
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);

  // Names currently reported.
  [[nodiscard]] std::vector<std::string> devices() const;
  // New names not remembered because the table was full.
  [[nodiscard]] std::uint64_t devices_dropped() const noexcept { return m_dropped; }

private:
  using Slots = NamedSlots<DiskCounters>;

  [[nodiscard]] Slots::Slot* slot_for(std::string_view name);
  [[nodiscard]] bool wanted(std::string_view name) const;
  void report(SampleSink& sink, Slots::Slot& slot, const DiskCounters& now, std::int64_t time_ms,
              std::int64_t elapsed_ms) noexcept;

  DiskIoConfig m_config;
  std::filesystem::path m_proc_root;
  std::filesystem::path m_sys_root;
  ProcFile m_file;
  Slots m_slots;
  std::int64_t m_previous_ms = 0;
  bool m_has_previous = false;
  std::uint64_t m_dropped = 0;
};

} // namespace medic::agent::sample
