// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/memory_sampler.hpp"

#include <charconv>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace medic::agent::sample {

namespace {

// /proc/meminfo is about 1.5 KiB on current kernels; the keys used all sit in its first half.
constexpr std::size_t k_meminfo_capacity = std::size_t{8} * 1024;
constexpr std::uint64_t k_bytes_per_kb = 1024;

// Values as read, in bytes; nullopt while the key has not been seen.
struct MeminfoFields {
  std::optional<std::uint64_t> total;
  std::optional<std::uint64_t> free;
  std::optional<std::uint64_t> available;
  std::optional<std::uint64_t> buffers;
  std::optional<std::uint64_t> cached;
  std::optional<std::uint64_t> reclaimable_slab;
  std::optional<std::uint64_t> swap_total;
  std::optional<std::uint64_t> swap_free;
};

std::optional<std::uint64_t>* field_for(MeminfoFields& fields, std::string_view key) noexcept {
  if (key == "MemTotal") {
    return &fields.total;
  }
  if (key == "MemFree") {
    return &fields.free;
  }
  if (key == "MemAvailable") {
    return &fields.available;
  }
  if (key == "Buffers") {
    return &fields.buffers;
  }
  if (key == "Cached") {
    return &fields.cached;
  }
  if (key == "SReclaimable") {
    return &fields.reclaimable_slab;
  }
  if (key == "SwapTotal") {
    return &fields.swap_total;
  }
  if (key == "SwapFree") {
    return &fields.swap_free;
  }
  return nullptr;
}

std::string_view trim_blanks(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// "   24684096 kB" -> bytes. The error is a fixed reason, so failing does not allocate here.
tl::expected<std::uint64_t, std::string_view> parse_kb_value(std::string_view text) noexcept {
  text = trim_blanks(text);
  std::uint64_t kb = 0;
  const auto [parsed_to, error] = std::from_chars(text.data(), text.data() + text.size(), kb);
  if (error == std::errc::result_out_of_range) {
    return tl::unexpected(std::string_view("the value does not fit in 64 bits"));
  }
  if (error != std::errc{} || parsed_to == text.data()) {
    return tl::unexpected(std::string_view("the value is not a number"));
  }
  text.remove_prefix(static_cast<std::size_t>(parsed_to - text.data()));
  if (trim_blanks(text) != "kB") {
    return tl::unexpected(std::string_view("the value is not followed by the unit kB"));
  }
  if (kb > std::numeric_limits<std::uint64_t>::max() / k_bytes_per_kb) {
    return tl::unexpected(std::string_view("the value in bytes does not fit in 64 bits"));
  }
  return kb * k_bytes_per_kb;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  return b > std::numeric_limits<std::uint64_t>::max() - a
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

double percent_of(std::uint64_t part, std::uint64_t whole) noexcept {
  if (whole == 0) {
    return 0;
  }
  const std::uint64_t clamped = part < whole ? part : whole;
  return static_cast<double>(clamped) / static_cast<double>(whole) * 100.0;
}

// With MemAvailable (kernels since 3.14) the other keys of the estimate are not needed, and the
// five keys used come in the file's first 16 lines of about 55: the rest is not parsed.
bool has_all_needed(const MeminfoFields& fields) noexcept {
  return fields.total && fields.free && fields.available && fields.swap_total && fields.swap_free;
}

Result<MeminfoFields> collect_fields(std::string_view text) {
  MeminfoFields fields;
  while (!text.empty() && !has_all_needed(fields)) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);

    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::optional<std::uint64_t>* field = field_for(fields, line.substr(0, colon));
    // A repeated key keeps its first value; the kernel never repeats one.
    if (field == nullptr || field->has_value()) {
      continue;
    }
    const auto bytes = parse_kb_value(line.substr(colon + 1));
    if (!bytes) {
      return fail(ErrorCode::invalid_argument,
                  "line '" + std::string(line) + "': " + std::string(bytes.error()));
    }
    *field = *bytes;
  }
  return fields;
}

} // namespace

double MemoryInfo::used_pct() const noexcept {
  const std::uint64_t available = available_bytes < total_bytes ? available_bytes : total_bytes;
  return percent_of(total_bytes - available, total_bytes);
}

double MemoryInfo::swap_used_pct() const noexcept {
  const std::uint64_t free =
      swap_free_bytes < swap_total_bytes ? swap_free_bytes : swap_total_bytes;
  return percent_of(swap_total_bytes - free, swap_total_bytes);
}

Result<MemoryInfo> parse_meminfo(std::string_view proc_meminfo) {
  auto fields = collect_fields(proc_meminfo);
  if (!fields) {
    return fail(std::move(fields).error());
  }
  if (!fields->total) {
    return fail(ErrorCode::invalid_argument, "no MemTotal line");
  }
  if (*fields->total == 0) {
    return fail(ErrorCode::invalid_argument, "MemTotal is 0");
  }
  MemoryInfo info;
  info.total_bytes = *fields->total;
  info.free_bytes = fields->free.value_or(0);
  info.swap_total_bytes = fields->swap_total.value_or(0);
  info.swap_free_bytes = fields->swap_free.value_or(0);
  if (fields->available) {
    info.available_bytes = *fields->available;
  } else {
    info.available_bytes = saturating_add(
        saturating_add(info.free_bytes, fields->buffers.value_or(0)),
        saturating_add(fields->cached.value_or(0), fields->reclaimable_slab.value_or(0)));
  }
  return info;
}

MemorySampler::MemorySampler(std::filesystem::path proc_root) : m_proc_root(std::move(proc_root)) {}

Result<void> MemorySampler::open() {
  auto file = ProcFile::open(m_proc_root / "meminfo", k_meminfo_capacity);
  if (!file) {
    return fail(std::move(file).error());
  }
  m_file = std::move(*file);
  m_file.set_short_read(ProcFile::ShortRead::is_the_end);
  auto info = sample();
  if (!info) {
    m_file = ProcFile();
    return fail(std::move(info).error());
  }
  return {};
}

Result<MemoryInfo> MemorySampler::sample() {
  if (!m_file.is_open()) {
    return fail(ErrorCode::internal, "memory sampler: sample() called before a successful open()");
  }
  auto text = m_file.read();
  if (!text) {
    return fail(std::move(text).error());
  }
  auto info = parse_meminfo(*text);
  if (!info) {
    return fail(std::move(info).error().context(m_file.path().string()));
  }
  return info;
}

Result<void> MemorySampler::sample(SampleSink& sink, std::int64_t now_ms) {
  auto info = sample();
  if (!info) {
    return fail(std::move(info).error());
  }
  sink.add("mem.used_pct", info->used_pct(), now_ms, {});
  sink.add("mem.total_bytes", static_cast<double>(info->total_bytes), now_ms, {});
  sink.add("mem.available_bytes", static_cast<double>(info->available_bytes), now_ms, {});
  sink.add("swap.used_pct", info->swap_used_pct(), now_ms, {});
  return {};
}

} // namespace medic::agent::sample
