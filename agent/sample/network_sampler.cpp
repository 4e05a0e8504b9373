// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/network_sampler.hpp"

#include <array>
#include <optional>
#include <utility>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::size_t k_min_capacity = std::size_t{4} * 1024;
constexpr std::size_t k_max_capacity = std::size_t{1024} * 1024;
constexpr std::size_t k_max_interfaces_limit = 4096;
constexpr std::size_t k_used_columns = 12;

} // namespace

Result<void> NetworkConfig::validate() const {
  if (max_interfaces == 0 || max_interfaces > k_max_interfaces_limit) {
    return fail(ErrorCode::config, "net.max_interfaces: must be between 1 and " +
                                       std::to_string(k_max_interfaces_limit));
  }
  for (const auto* list : {&interfaces, &exclude_interfaces}) {
    for (const std::string& pattern : *list) {
      if (pattern.empty() || pattern.find_first_of(" :/") != std::string::npos) {
        return fail(ErrorCode::config,
                    std::string(list == &interfaces ? "net.interfaces" : "net.exclude_interfaces") +
                        ": '" + pattern + "' is not an interface name or pattern (like eth*)");
      }
    }
  }
  return {};
}

Result<NetCounters> parse_netdev_line(std::string_view line, std::string_view& name) {
  const std::size_t colon = line.find(':');
  name = trim_blanks(line.substr(0, colon));
  if (colon == std::string_view::npos || name.empty()) {
    return fail(ErrorCode::invalid_argument,
                "expected '<interface>: <counters>...', got '" + std::string(line) + "'");
  }
  std::string_view rest = line.substr(colon + 1);
  std::array<std::uint64_t, k_used_columns> values{};
  for (std::size_t i = 0; i < k_used_columns; ++i) {
    const std::string_view token = next_token(rest);
    if (token.empty()) {
      return fail(ErrorCode::invalid_argument, "interface '" + std::string(name) + "' has " +
                                                   std::to_string(i) +
                                                   " counters, at least 12 are required");
    }
    if (!parse_u64(token, values[i])) {
      return fail(ErrorCode::invalid_argument, "interface '" + std::string(name) + "': counter " +
                                                   std::to_string(i + 1) + " '" +
                                                   std::string(token) + "' is not a number");
    }
  }
  // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets
  // errs drop ...
  return NetCounters{.rx_bytes = values[0],
                     .rx_packets = values[1],
                     .rx_errors = values[2],
                     .rx_drops = values[3],
                     .tx_bytes = values[8],
                     .tx_packets = values[9],
                     .tx_errors = values[10],
                     .tx_drops = values[11]};
}

NetworkSampler::NetworkSampler(NetworkConfig config, std::filesystem::path proc_root)
    : m_config(std::move(config)), m_proc_root(std::move(proc_root)) {}

Result<void> NetworkSampler::open() {
  if (auto valid = m_config.validate(); !valid) {
    return valid;
  }
  auto file = ProcFile::open_fitting(m_proc_root / "net" / "dev", k_min_capacity, k_max_capacity);
  if (!file) {
    return fail(std::move(file).error());
  }
  m_file = std::move(*file);
  m_file.set_short_read(ProcFile::ShortRead::of_small_lines_is_the_end);
  m_slots.clear();
  m_slots.reserve(m_config.max_interfaces * 4 + 64);
  m_has_previous = false;
  NullSink discard;
  if (auto first = sample(discard, 0); !first) {
    m_file = ProcFile();
    return first;
  }
  m_has_previous = false;
  m_slots.forget_previous();
  return {};
}

NetworkSampler::Slots::Slot* NetworkSampler::slot_for(std::string_view name) {
  if (Slots::Slot* slot = m_slots.find(name)) {
    return slot;
  }
  const bool wanted = !glob_match_any(m_config.exclude_interfaces, name) &&
                      (m_config.interfaces.empty() || glob_match_any(m_config.interfaces, name));
  Slots::Slot* slot =
      m_slots.insert(name, wanted && m_slots.tracked_count() < m_config.max_interfaces);
  if (slot == nullptr) {
    ++m_dropped;
  }
  return slot;
}

Result<void> NetworkSampler::sample(SampleSink& sink, std::int64_t now_ms) {
  if (!m_file.is_open()) {
    return fail(ErrorCode::internal, "net sampler: sample() called before a successful open()");
  }
  auto text = m_file.read();
  if (text && m_file.filled() && m_file.capacity() < k_max_capacity) {
    m_file.grow(m_file.capacity() * 2);
    text = m_file.read();
  }
  if (!text) {
    return fail(std::move(text).error());
  }
  const std::int64_t elapsed_ms = now_ms - m_previous_ms;
  const bool rates = m_has_previous && elapsed_ms > 0;
  std::optional<Error> first_error;
  m_slots.begin_round();
  LineCursor lines(*text);
  std::string_view line;
  while (lines.next(line)) {
    if (line.find(':') == std::string_view::npos) {
      continue; // the two header lines
    }
    std::string_view name;
    auto counters = parse_netdev_line(line, name);
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
    slot->seen = true;
    if (slot->tracked) {
      if (rates && slot->has_previous) {
        report(sink, *slot, *counters, now_ms, elapsed_ms);
      }
      slot->previous = *counters;
      slot->has_previous = true;
    }
  }
  m_slots.end_round();
  m_previous_ms = now_ms;
  m_has_previous = true;
  if (first_error) {
    return fail(std::move(*first_error));
  }
  return {};
}

void NetworkSampler::report(SampleSink& sink, const Slots::Slot& slot, const NetCounters& now,
                            std::int64_t time_ms, std::int64_t elapsed_ms) noexcept {
  const NetCounters& before = slot.previous;
  const std::optional<std::uint64_t> deltas[] = {counter_delta(before.rx_bytes, now.rx_bytes),
                                                 counter_delta(before.tx_bytes, now.tx_bytes),
                                                 counter_delta(before.rx_packets, now.rx_packets),
                                                 counter_delta(before.tx_packets, now.tx_packets),
                                                 counter_delta(before.rx_errors, now.rx_errors),
                                                 counter_delta(before.tx_errors, now.tx_errors),
                                                 counter_delta(before.rx_drops, now.rx_drops),
                                                 counter_delta(before.tx_drops, now.tx_drops)};
  for (const auto& delta : deltas) {
    if (!delta) {
      return; // reset: the caller stores `now` as the new starting point
    }
  }
  constexpr std::string_view k_names[] = {
      "net.rx_bytes_per_s",  "net.tx_bytes_per_s",  "net.rx_packets_per_s", "net.tx_packets_per_s",
      "net.rx_errors_per_s", "net.tx_errors_per_s", "net.rx_drops_per_s",   "net.tx_drops_per_s"};
  const protocol::LabelView labels[] = {{"interface", label_value(slot.name)}};
  for (std::size_t i = 0; i < std::size(k_names); ++i) {
    sink.add(k_names[i], per_second(*deltas[i], elapsed_ms), time_ms, labels);
  }
}

std::vector<std::string> NetworkSampler::interfaces() const {
  std::vector<std::string> names;
  for (const auto& slot : m_slots.slots()) {
    if (slot.tracked) {
      names.push_back(slot.name);
    }
  }
  return names;
}

} // namespace medic::agent::sample
