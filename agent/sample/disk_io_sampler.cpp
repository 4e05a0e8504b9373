// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/disk_io_sampler.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::size_t k_min_capacity = std::size_t{8} * 1024;
constexpr std::size_t k_max_capacity = std::size_t{1024} * 1024;
constexpr std::size_t k_max_devices_limit = 4096;
constexpr std::size_t k_counter_columns = 11;
constexpr double k_sector_bytes = 512;

// /sys spells a '/' in a device name ("cciss/c0d0") as '!'.
std::string sys_entry(std::string_view name) {
  std::string entry(name);
  std::replace(entry.begin(), entry.end(), '/', '!');
  return entry;
}

bool is_a_directory(const std::filesystem::path& path) noexcept {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace

Result<void> DiskIoConfig::validate() const {
  if (max_devices == 0 || max_devices > k_max_devices_limit) {
    return fail(ErrorCode::config,
                "diskio.max_devices: must be between 1 and " + std::to_string(k_max_devices_limit));
  }
  for (const auto* list : {&devices, &exclude_devices}) {
    for (const std::string& pattern : *list) {
      if (pattern.empty() || pattern.find('/') != std::string::npos) {
        return fail(ErrorCode::config,
                    std::string(list == &devices ? "diskio.devices" : "diskio.exclude_devices") +
                        ": '" + pattern + "' is not a device name or pattern (like sd*)");
      }
    }
  }
  return {};
}

Result<DiskCounters> parse_disk_counters(std::string_view counters, std::string_view name) {
  std::string_view rest = counters;
  std::array<std::uint64_t, k_counter_columns> values{};
  for (std::size_t i = 0; i < k_counter_columns; ++i) {
    const std::string_view token = next_token(rest);
    if (token.empty()) {
      return fail(ErrorCode::invalid_argument, "device '" + std::string(name) + "' has " +
                                                   std::to_string(i) +
                                                   " counters, at least 11 are required");
    }
    if (!parse_u64(token, values[i])) {
      return fail(ErrorCode::invalid_argument, "device '" + std::string(name) + "': counter " +
                                                   std::to_string(i + 1) + " '" +
                                                   std::string(token) + "' is not a number");
    }
  }
  // Columns: reads merged sectors ms, writes merged sectors ms, in-flight, io ms, weighted ms.
  return DiskCounters{.reads = values[0],
                      .read_sectors = values[2],
                      .read_ms = values[3],
                      .writes = values[4],
                      .write_sectors = values[6],
                      .write_ms = values[7],
                      .io_ms = values[9]};
}

Result<DiskCounters> parse_diskstats_line(std::string_view line, std::string_view& name) {
  std::string_view rest = line;
  std::uint64_t ignored = 0;
  const std::string_view major = next_token(rest);
  const std::string_view minor = next_token(rest);
  name = next_token(rest);
  if (!parse_u64(major, ignored) || !parse_u64(minor, ignored) || name.empty()) {
    return fail(ErrorCode::invalid_argument,
                "expected '<major> <minor> <name> <counters>...', got '" + std::string(line) + "'");
  }
  return parse_disk_counters(rest, name);
}

DiskIoSampler::DiskIoSampler(DiskIoConfig config, std::filesystem::path proc_root,
                             std::filesystem::path sys_root)
    : m_config(std::move(config)),
      m_proc_root(std::move(proc_root)),
      m_sys_root(std::move(sys_root)) {}

Result<void> DiskIoSampler::open() {
  if (auto valid = m_config.validate(); !valid) {
    return valid;
  }
  if (!m_config.partitions && !is_a_directory(m_sys_root / "block")) {
    return fail(ErrorCode::not_found,
                (m_sys_root / "block").string() +
                    " is not a directory: cannot tell whole disks from partitions");
  }
  auto file = ProcFile::open_fitting(m_proc_root / "diskstats", k_min_capacity, k_max_capacity);
  if (!file) {
    return fail(std::move(file).error());
  }
  m_file = std::move(*file);
  m_file.set_short_read(ProcFile::ShortRead::of_small_lines_is_the_end);
  // Whatever the machine shows, a few times the reported devices are remembered (partitions
  // and excluded names included) so that nothing is looked up again on every tick.
  m_slots.clear();
  m_slots.reserve(m_config.max_devices * 4 + 64);
  m_has_previous = false;
  m_discover = true;
  NullSink discard;
  if (auto first = sample(discard, 0); !first) {
    m_file = ProcFile();
    return first;
  }
  m_has_previous = false;
  m_slots.forget_previous();
  return {};
}

bool DiskIoSampler::wanted(std::string_view name) const {
  if (glob_match_any(m_config.exclude_devices, name)) {
    return false;
  }
  if (!m_config.devices.empty() && !glob_match_any(m_config.devices, name)) {
    return false;
  }
  if (m_config.partitions) {
    return true;
  }
  return is_a_directory(m_sys_root / "block" / sys_entry(name));
}

std::filesystem::path DiskIoSampler::stat_path(std::string_view name) const {
  return m_sys_root / "class" / "block" / sys_entry(name) / "stat";
}

DiskIoSampler::Slots::Slot* DiskIoSampler::slot_for(std::string_view name) {
  if (Slots::Slot* slot = m_slots.find(name)) {
    return slot;
  }
  const bool tracked = wanted(name) && m_slots.tracked_count() < m_config.max_devices;
  Slots::Slot* slot = m_slots.insert(name, tracked);
  if (slot == nullptr) {
    ++m_dropped;
    return nullptr;
  }
  if (tracked) {
    open_stat_file(*slot);
  }
  return slot;
}

void DiskIoSampler::open_stat_file(Slots::Slot& slot) {
  constexpr std::size_t k_stat_capacity = 512; // 17 numbers of at most 20 digits, and spaces
  if (auto stat = ProcFile::open(stat_path(slot.name), k_stat_capacity)) {
    slot.previous.stat = std::move(*stat);
    slot.previous.stat.set_short_read(ProcFile::ShortRead::is_the_end);
  }
}

Result<void> DiskIoSampler::sample(SampleSink& sink, std::int64_t now_ms) {
  if (!m_file.is_open()) {
    return fail(ErrorCode::internal, "diskio sampler: sample() called before a successful open()");
  }
  const std::int64_t elapsed_ms = now_ms - m_previous_ms;
  const bool rates = m_has_previous && elapsed_ms > 0;
  const bool due =
      now_ms - m_discovered_ms >= m_config.discover_interval_ms || now_ms < m_discovered_ms;
  Result<void> done;
  if (m_discover || due) {
    done = discover(sink, now_ms, rates, true);
  } else if (!m_all_have_stat) {
    done = discover(sink, now_ms, rates, false);
  } else {
    m_discover = !read_stat_files(sink, now_ms, rates);
  }
  m_previous_ms = now_ms;
  m_has_previous = true;
  return done;
}

Result<void> DiskIoSampler::discover(SampleSink& sink, std::int64_t now_ms, bool rates,
                                     bool reopen) {
  ++m_diskstats_reads;
  auto text = m_file.read();
  if (text && m_file.filled() && m_file.capacity() < k_max_capacity) {
    m_file.grow(m_file.capacity() * 2);
    text = m_file.read();
  }
  if (!text) {
    return fail(std::move(text).error());
  }
  std::optional<Error> first_error;
  m_slots.begin_round();
  LineCursor lines(*text);
  std::string_view line;
  while (lines.next(line)) {
    if (trim_blanks(line).empty()) {
      continue;
    }
    std::string_view name;
    auto counters = parse_diskstats_line(line, name);
    if (!counters) {
      if (!first_error) {
        first_error =
            line_error(m_file.path().string(), lines.line_number(), counters.error().message());
      }
      continue;
    }
    Slots::Slot* slot = slot_for(name);
    if (slot == nullptr) {
      continue;
    }
    if (reopen && slot->tracked && !slot->previous.stat.is_open()) {
      open_stat_file(*slot); // its read failed since: maybe re-created under the same name
    }
    count(sink, *slot, *counters, now_ms, rates);
  }
  m_slots.end_round();
  if (reopen) {
    m_discover = false;
    m_discovered_ms = now_ms;
  }
  m_all_have_stat = std::all_of(
      m_slots.slots().begin(), m_slots.slots().end(),
      [](const Slots::Slot& slot) { return !slot.tracked || slot.previous.stat.is_open(); });
  if (first_error) {
    return fail(std::move(*first_error));
  }
  return {};
}

bool DiskIoSampler::read_stat_files(SampleSink& sink, std::int64_t now_ms, bool rates) {
  bool all_read = true;
  for (Slots::Slot& slot : m_slots.slots()) {
    if (!slot.tracked) {
      continue;
    }
    // A device removed since discovery fails its read (ENODEV). Its file is closed and the next
    // round reads diskstats: that drops the device, or finds it again and reopens its file.
    auto text = slot.previous.stat.read();
    Result<DiskCounters> counters = text ? parse_disk_counters(*text, slot.name)
                                         : Result<DiskCounters>(fail(std::move(text).error()));
    if (!counters) {
      all_read = false;
      slot.has_previous = false;
      slot.previous.stat = ProcFile();
      continue;
    }
    count(sink, slot, *counters, now_ms, rates);
  }
  return all_read;
}

void DiskIoSampler::count(SampleSink& sink, Slots::Slot& slot, const DiskCounters& now,
                          std::int64_t now_ms, bool rates) noexcept {
  slot.seen = true;
  if (!slot.tracked) {
    return;
  }
  if (rates && slot.has_previous) {
    report(sink, slot, now, now_ms, now_ms - m_previous_ms);
  }
  slot.previous.counters = now;
  slot.has_previous = true;
}

void DiskIoSampler::report(SampleSink& sink, Slots::Slot& slot, const DiskCounters& now,
                           std::int64_t time_ms, std::int64_t elapsed_ms) noexcept {
  const DiskCounters& before = slot.previous.counters;
  const auto reads = counter_delta(before.reads, now.reads);
  const auto read_sectors = counter_delta(before.read_sectors, now.read_sectors);
  const auto read_ms = counter_delta(before.read_ms, now.read_ms);
  const auto writes = counter_delta(before.writes, now.writes);
  const auto write_sectors = counter_delta(before.write_sectors, now.write_sectors);
  const auto write_ms = counter_delta(before.write_ms, now.write_ms);
  const auto io_ms = counter_delta(before.io_ms, now.io_ms);
  if (!reads || !read_sectors || !read_ms || !writes || !write_sectors || !write_ms || !io_ms) {
    return; // reset: the caller stores `now` as the new starting point
  }
  const auto await = [](std::uint64_t ms, std::uint64_t count) {
    return count == 0 ? 0.0 : static_cast<double>(ms) / static_cast<double>(count);
  };
  const double util =
      std::clamp(static_cast<double>(*io_ms) * 100.0 / static_cast<double>(elapsed_ms), 0.0, 100.0);
  const protocol::LabelView labels[] = {{"device", label_value(slot.name)}};
  sink.add("disk.io.util_pct", util, time_ms, labels);
  sink.add("disk.io.read_await_ms", await(*read_ms, *reads), time_ms, labels);
  sink.add("disk.io.write_await_ms", await(*write_ms, *writes), time_ms, labels);
  sink.add("disk.io.read_ops_per_s", per_second(*reads, elapsed_ms), time_ms, labels);
  sink.add("disk.io.write_ops_per_s", per_second(*writes, elapsed_ms), time_ms, labels);
  sink.add("disk.io.read_bytes_per_s", per_second(*read_sectors, elapsed_ms) * k_sector_bytes,
           time_ms, labels);
  sink.add("disk.io.write_bytes_per_s", per_second(*write_sectors, elapsed_ms) * k_sector_bytes,
           time_ms, labels);
}

std::vector<std::string> DiskIoSampler::devices() const {
  std::vector<std::string> names;
  for (const auto& slot : m_slots.slots()) {
    if (slot.tracked) {
      names.push_back(slot.name);
    }
  }
  return names;
}

} // namespace medic::agent::sample
