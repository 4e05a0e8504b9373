// SPDX-License-Identifier: Apache-2.0
// Network traffic per interface from /proc/net/dev: bytes, packets, errors and drops per second,
// received and sent. Loopback is left out by default. Loop thread; a sample reads into a buffer
// allocated at open() and parses without allocating while the set of interfaces stays the same.
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

struct NetworkConfig {
  // Only interfaces matching one of these patterns ('*', '?') when not empty.
  std::vector<std::string> interfaces;
  // Never these.
  std::vector<std::string> exclude_interfaces{"lo"};
  // Interfaces reported at most (container hosts can have hundreds of veth*).
  std::size_t max_interfaces = 64;

  [[nodiscard]] Result<void> validate() const;
};

struct NetCounters {
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_errors = 0;
  std::uint64_t rx_drops = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_errors = 0;
  std::uint64_t tx_drops = 0;

  friend bool operator==(const NetCounters&, const NetCounters&) = default;
};

// One interface line, "  eth0: 123 45 ..." (the name may touch the first number): at least the
// 8 receive and 4 transmit columns used. Header lines (no ':') are not interface lines; the
// caller skips them. `name` points into `line`. Errors say what is wrong, not where.
[[nodiscard]] Result<NetCounters> parse_netdev_line(std::string_view line, std::string_view& name);

class NetworkSampler {
public:
  explicit NetworkSampler(NetworkConfig config = {}, std::filesystem::path proc_root = "/proc");

  // Validates the config, opens <proc_root>/net/dev and checks it parses.
  [[nodiscard]] Result<void> open();

  // Loop thread. Adds net.* per interface, none on an interface's first reading, after a counter
  // reset (interface re-created), or when `now_ms` did not advance. Counters that wrap at 32 bits
  // (old drivers) are followed across the wrap. A malformed line is skipped and its error
  // (naming file and line) returned after the other interfaces were added.
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);

  [[nodiscard]] std::vector<std::string> interfaces() const;
  [[nodiscard]] std::uint64_t interfaces_dropped() const noexcept { return m_dropped; }

private:
  using Slots = NamedSlots<NetCounters>;

  [[nodiscard]] Slots::Slot* slot_for(std::string_view name);
  void report(SampleSink& sink, const Slots::Slot& slot, const NetCounters& now,
              std::int64_t time_ms, std::int64_t elapsed_ms) noexcept;

  NetworkConfig m_config;
  std::filesystem::path m_proc_root;
  ProcFile m_file;
  Slots m_slots;
  std::int64_t m_previous_ms = 0;
  bool m_has_previous = false;
  std::uint64_t m_dropped = 0;
};

} // namespace medic::agent::sample
