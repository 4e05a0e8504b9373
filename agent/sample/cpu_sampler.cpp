// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/cpu_sampler.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <utility>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

// Room for the whole /proc/stat of a machine with a few dozen CPUs; open() sizes the buffer from
// the real file (its `intr` line grows with the interrupt count) up to the maximum.
constexpr std::size_t k_stat_min_capacity = std::size_t{16} * 1024;
constexpr std::size_t k_stat_max_capacity = std::size_t{1024} * 1024;
constexpr std::size_t k_min_columns = 4;
constexpr std::size_t k_used_columns = 8;
constexpr std::size_t k_max_cores_limit = 65536;

std::optional<std::string_view> find_aggregate_line(std::string_view text) noexcept {
  LineCursor lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (line.size() > 3 && line.starts_with("cpu") && is_blank(line[3])) {
      return line;
    }
  }
  return std::nullopt;
}

// "cpu12 1 2 3" -> 12 and the columns; nullopt for any other line (also the aggregate one).
std::optional<std::size_t> core_number(std::string_view line, std::string_view& columns) noexcept {
  if (line.size() < 4 || !line.starts_with("cpu") || is_blank(line[3])) {
    return std::nullopt;
  }
  std::string_view rest = line.substr(3);
  const std::string_view token = next_token(rest);
  std::uint64_t number = 0;
  if (!parse_u64(token, number) || number >= k_max_cores_limit) {
    return std::nullopt;
  }
  columns = rest;
  return static_cast<std::size_t>(number);
}

std::uint64_t elapsed(std::uint64_t before, std::uint64_t after) noexcept {
  return after > before ? after - before : 0;
}

struct UsageNames {
  std::string_view busy, user, system, iowait, steal, idle;
};

constexpr UsageNames k_total_names{"cpu.usage_pct",  "cpu.user_pct",  "cpu.system_pct",
                                   "cpu.iowait_pct", "cpu.steal_pct", "cpu.idle_pct"};
constexpr UsageNames k_core_names{"cpu.core.usage_pct",  "cpu.core.user_pct",
                                  "cpu.core.system_pct", "cpu.core.iowait_pct",
                                  "cpu.core.steal_pct",  "cpu.core.idle_pct"};

void add_usage(SampleSink& sink, const UsageNames& names, const CpuUsage& usage,
               std::int64_t now_ms, std::span<const protocol::LabelView> labels) noexcept {
  sink.add(names.busy, usage.busy_pct, now_ms, labels);
  sink.add(names.user, usage.user_pct, now_ms, labels);
  sink.add(names.system, usage.system_pct, now_ms, labels);
  sink.add(names.iowait, usage.iowait_pct, now_ms, labels);
  sink.add(names.steal, usage.steal_pct, now_ms, labels);
  sink.add(names.idle, usage.idle_pct, now_ms, labels);
}

} // namespace

Result<CpuTimes> parse_cpu_columns(std::string_view line_name, std::string_view columns_text) {
  // Only built on failure: the per-CPU lines are parsed every tick.
  const auto what = [line_name] {
    return line_name == "cpu" ? std::string("aggregate 'cpu' line")
                              : "'" + std::string(line_name) + "' line";
  };
  std::array<std::uint64_t, k_used_columns> values{};
  std::size_t columns = 0;
  std::string_view rest = columns_text;
  for (std::string_view token = next_token(rest); !token.empty(); token = next_token(rest)) {
    std::uint64_t value = 0;
    if (!parse_u64(token, value)) {
      return fail(ErrorCode::invalid_argument, what() + ": column " + std::to_string(columns + 1) +
                                                   " '" + std::string(token) +
                                                   "' is not a 64-bit unsigned number");
    }
    if (columns < k_used_columns) {
      values[columns] = value;
    }
    ++columns;
  }
  if (columns < k_min_columns) {
    return fail(ErrorCode::invalid_argument,
                what() + " has " + std::to_string(columns) +
                    " numbers, at least 4 (user nice system idle) are required");
  }
  return CpuTimes{values[0], values[1], values[2], values[3],
                  values[4], values[5], values[6], values[7]};
}

Result<CpuTimes> parse_cpu_total(std::string_view proc_stat) {
  const auto line = find_aggregate_line(proc_stat);
  if (!line) {
    return fail(ErrorCode::invalid_argument, "no aggregate 'cpu' line");
  }
  return parse_cpu_columns("cpu", line->substr(3));
}

CpuUsage cpu_usage(const CpuTimes& before, const CpuTimes& after) noexcept {
  // Each delta goes to double before summing: values from a corrupt file could overflow a
  // 64-bit sum, and the percentages must stay within 0..100 even then.
  const auto delta = [&](std::uint64_t CpuTimes::*field) {
    return static_cast<double>(elapsed(before.*field, after.*field));
  };
  const double user = delta(&CpuTimes::user) + delta(&CpuTimes::nice);
  const double system =
      delta(&CpuTimes::system) + delta(&CpuTimes::irq) + delta(&CpuTimes::softirq);
  const double iowait = delta(&CpuTimes::iowait);
  const double steal = delta(&CpuTimes::steal);
  const double idle = delta(&CpuTimes::idle);
  const double total = user + system + iowait + steal + idle;
  if (total <= 0) {
    return CpuUsage{};
  }
  const double scale = 100.0 / total;
  // Rounding can put a sum of parts a hair above 100 (seen as 100.00000000000001 under load).
  const auto pct = [scale](double part) { return std::clamp(part * scale, 0.0, 100.0); };
  return CpuUsage{
      .user_pct = pct(user),
      .system_pct = pct(system),
      .iowait_pct = pct(iowait),
      .steal_pct = pct(steal),
      .idle_pct = pct(idle),
      // Summed from the busy parts rather than 100 - idle - iowait, which rounding could push
      // a hair below 0.
      .busy_pct = pct(user + system + steal),
  };
}

Result<void> CpuConfig::validate() const {
  if (max_cores == 0 || max_cores > k_max_cores_limit) {
    return fail(ErrorCode::config, "cpu.max_cores: must be between 1 and " +
                                       std::to_string(k_max_cores_limit) + ", not " +
                                       std::to_string(max_cores));
  }
  return {};
}

CpuSampler::CpuSampler(std::filesystem::path proc_root, CpuConfig config)
    : m_proc_root(std::move(proc_root)), m_config(config) {}

Result<void> CpuSampler::open() {
  m_previous.reset();
  m_cores.clear();
  if (auto valid = m_config.validate(); !valid) {
    return valid;
  }
  auto file =
      ProcFile::open_fitting(m_proc_root / "stat", k_stat_min_capacity, k_stat_max_capacity);
  if (!file) {
    return fail(std::move(file).error());
  }
  m_file = std::move(*file);
  m_file.set_short_read(ProcFile::ShortRead::is_the_end);
  auto times = read_times();
  if (!times) {
    m_file = ProcFile();
    return fail(std::move(times).error());
  }
  if (m_config.per_core) {
    size_cores(m_text);
  }
  return {};
}

void CpuSampler::size_cores(std::string_view text) {
  std::size_t count = 0;
  LineCursor lines(text);
  std::string_view line;
  std::string_view columns;
  while (lines.next(line)) {
    if (const auto number = core_number(line, columns); number && *number < m_config.max_cores) {
      count = std::max(count, *number + 1);
    }
  }
  m_cores.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    m_cores[i].label = std::to_string(i);
  }
}

Result<std::optional<CpuUsage>> CpuSampler::sample() {
  auto times = read_times();
  if (!times) {
    return fail(std::move(times).error());
  }
  std::optional<CpuUsage> usage;
  if (m_previous) {
    usage = cpu_usage(*m_previous, *times);
  }
  m_previous = *times;
  return usage;
}

Result<void> CpuSampler::sample(SampleSink& sink, std::int64_t now_ms) {
  auto usage = sample();
  if (!usage) {
    return fail(std::move(usage).error());
  }
  if (usage->has_value()) {
    add_usage(sink, k_total_names, **usage, now_ms, {});
  }
  if (m_cores.empty()) {
    return {};
  }
  return sample_cores(sink, now_ms, m_text);
}

Result<void> CpuSampler::sample_cores(SampleSink& sink, std::int64_t now_ms,
                                      std::string_view text) {
  std::optional<Error> first_error;
  for (Core& core : m_cores) {
    core.seen = false;
  }
  LineCursor lines(text);
  std::string_view line;
  std::string_view columns;
  while (lines.next(line)) {
    const auto number = core_number(line, columns);
    if (!number || *number >= m_cores.size()) {
      continue;
    }
    Core& core = m_cores[*number];
    const std::string_view name = line.substr(0, line.size() - columns.size());
    auto times = parse_cpu_columns(name, columns);
    if (!times) {
      if (!first_error) {
        first_error =
            line_error(m_file.path().string(), lines.line_number(), times.error().message());
      }
      continue;
    }
    if (core.has_previous) {
      const protocol::LabelView labels[] = {{"cpu", core.label}};
      add_usage(sink, k_core_names, cpu_usage(core.previous, *times), now_ms, labels);
    }
    core.previous = *times;
    core.has_previous = true;
    core.seen = true;
  }
  for (Core& core : m_cores) {
    // Offline now: its counters may have moved on when it comes back, so start over then.
    core.has_previous = core.has_previous && core.seen;
  }
  if (first_error) {
    return fail(std::move(*first_error));
  }
  return {};
}

Result<CpuTimes> CpuSampler::read_times() {
  if (!m_file.is_open()) {
    return fail(ErrorCode::internal, "cpu sampler: sample() called before a successful open()");
  }
  auto text = m_file.read();
  if (!text) {
    return fail(std::move(text).error());
  }
  m_text = *text;
  auto times = parse_cpu_total(*text);
  if (!times) {
    return fail(std::move(times).error().context(m_file.path().string()));
  }
  return times;
}

} // namespace medic::agent::sample
