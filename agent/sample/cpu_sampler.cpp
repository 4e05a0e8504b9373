// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/cpu_sampler.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <string>
#include <utility>

namespace medic::agent::sample {

namespace {

// Room for the whole /proc/stat of a machine with a few dozen CPUs; on larger machines the
// tail is cut, which is harmless because the aggregate `cpu` line always comes first.
constexpr std::size_t k_stat_capacity = std::size_t{16} * 1024;
constexpr std::size_t k_min_columns = 4;
constexpr std::size_t k_used_columns = 8;

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

std::optional<std::string_view> find_aggregate_line(std::string_view text) noexcept {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (line.size() > 3 && line.starts_with("cpu") && is_blank(line[3])) {
      return line;
    }
    if (end == std::string_view::npos) {
      break;
    }
    text.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::string_view next_token(std::string_view& rest) noexcept {
  std::size_t start = 0;
  while (start < rest.size() && is_blank(rest[start])) {
    ++start;
  }
  std::size_t end = start;
  while (end < rest.size() && !is_blank(rest[end])) {
    ++end;
  }
  const std::string_view token = rest.substr(start, end - start);
  rest.remove_prefix(end);
  return token;
}

std::uint64_t elapsed(std::uint64_t before, std::uint64_t after) noexcept {
  return after > before ? after - before : 0;
}

} // namespace

Result<CpuTimes> parse_cpu_total(std::string_view proc_stat) {
  const auto line = find_aggregate_line(proc_stat);
  if (!line) {
    return fail(ErrorCode::invalid_argument, "no aggregate 'cpu' line");
  }
  std::array<std::uint64_t, k_used_columns> values{};
  std::size_t columns = 0;
  std::string_view rest = line->substr(3);
  for (std::string_view token = next_token(rest); !token.empty(); token = next_token(rest)) {
    std::uint64_t value = 0;
    const char* const end = token.data() + token.size();
    const auto [parsed_to, error] = std::from_chars(token.data(), end, value);
    if (error != std::errc{} || parsed_to != end) {
      return fail(ErrorCode::invalid_argument,
                  "aggregate 'cpu' line: column " + std::to_string(columns + 1) + " '" +
                      std::string(token) + "' is not a 64-bit unsigned number");
    }
    if (columns < k_used_columns) {
      values[columns] = value;
    }
    ++columns;
  }
  if (columns < k_min_columns) {
    return fail(ErrorCode::invalid_argument,
                "aggregate 'cpu' line has " + std::to_string(columns) +
                    " numbers, at least 4 (user nice system idle) are required");
  }
  return CpuTimes{values[0], values[1], values[2], values[3],
                  values[4], values[5], values[6], values[7]};
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

CpuSampler::CpuSampler(std::filesystem::path proc_root) : m_proc_root(std::move(proc_root)) {}

Result<void> CpuSampler::open() {
  m_previous.reset();
  auto file = ProcFile::open(m_proc_root / "stat", k_stat_capacity);
  if (!file) {
    return fail(std::move(file).error());
  }
  m_file = std::move(*file);
  auto times = read_times();
  if (!times) {
    m_file = ProcFile();
    return fail(std::move(times).error());
  }
  return {};
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

Result<CpuTimes> CpuSampler::read_times() {
  if (!m_file.is_open()) {
    return fail(ErrorCode::internal, "cpu sampler: sample() called before a successful open()");
  }
  auto text = m_file.read();
  if (!text) {
    return fail(std::move(text).error());
  }
  auto times = parse_cpu_total(*text);
  if (!times) {
    return fail(std::move(times).error().context(m_file.path().string()));
  }
  return times;
}

} // namespace medic::agent::sample
