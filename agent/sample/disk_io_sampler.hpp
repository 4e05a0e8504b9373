// SPDX-License-Identifier: Apache-2.0
// Disk I/O per block device: utilisation, average wait per request, operations and bytes per
// second. Whole disks only by default (a partition repeats part of its disk's counters): a name is
// a whole disk when <sys_root>/block/<name> exists, checked once when the name first appears.
//
// /proc/diskstats lists every device (loop devices, zram, partitions) and the kernel builds all of
// it, in-flight counts included, on each read. So it is read only to discover devices, every
// `discover_interval_ms`; between, each reported device's own <sys_root>/class/block/<name>/stat
// (the same counters, one line) is read, kept open like the /proc files. A device whose stat file
// cannot be opened (an old kernel, a test's fake /sys) keeps the sampler on diskstats every round.
// Loop thread; a sample reads into buffers allocated when a device first appears and parses
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
  // How often /proc/diskstats is read to find new and removed devices (a removed one also shows
  // as soon as its stat file fails). 0: every round.
  std::int64_t discover_interval_ms = 10'000;

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
// The counters alone, as in /sys/class/block/<name>/stat; `name` only words the error.
[[nodiscard]] Result<DiskCounters> parse_disk_counters(std::string_view counters,
                                                       std::string_view name);

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
  // Reads of /proc/diskstats so far (tests: discovery stays off the steady path).
  [[nodiscard]] std::uint64_t diskstats_reads() const noexcept { return m_diskstats_reads; }
  // New names not remembered because the table was full.
  [[nodiscard]] std::uint64_t devices_dropped() const noexcept { return m_dropped; }

private:
  struct Device {
    DiskCounters counters;
    ProcFile stat; // <sys>/class/block/<name>/stat; closed when it could not be opened
  };
  using Slots = NamedSlots<Device>;

  [[nodiscard]] Slots::Slot* slot_for(std::string_view name);
  [[nodiscard]] bool wanted(std::string_view name) const;
  [[nodiscard]] std::filesystem::path stat_path(std::string_view name) const;
  void open_stat_file(Slots::Slot& slot);
  // Reads diskstats; `reopen` (a discovery, not the fallback of a round) also reopens the stat
  // files that failed and restarts the discovery interval.
  [[nodiscard]] Result<void> discover(SampleSink& sink, std::int64_t now_ms, bool rates,
                                      bool reopen);
  // False when a device's stat file failed (gone): the next round discovers again.
  [[nodiscard]] bool read_stat_files(SampleSink& sink, std::int64_t now_ms, bool rates);
  void count(SampleSink& sink, Slots::Slot& slot, const DiskCounters& now, std::int64_t now_ms,
             bool rates) noexcept;
  void report(SampleSink& sink, Slots::Slot& slot, const DiskCounters& now, std::int64_t time_ms,
              std::int64_t elapsed_ms) noexcept;

  DiskIoConfig m_config;
  std::filesystem::path m_proc_root;
  std::filesystem::path m_sys_root;
  ProcFile m_file;
  Slots m_slots;
  std::int64_t m_previous_ms = 0;
  std::int64_t m_discovered_ms = 0;
  bool m_has_previous = false;
  bool m_discover = true;       // the next round reads diskstats
  bool m_all_have_stat = false; // every reported device has its stat file open
  std::uint64_t m_dropped = 0;
  std::uint64_t m_diskstats_reads = 0;
};

} // namespace medic::agent::sample
