// SPDX-License-Identifier: Apache-2.0
// The replay guard for COMMANDs: an agent never starts a command past its deadline, nor one whose
// id it has already seen. Ids are remembered until their deadline has passed (after that the
// deadline rule refuses a replay anyway), so memory is bounded by the commands still live.
// Loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "protocol/message.hpp"

namespace medic::agent::link {

enum class CommandVerdict {
  run,       // new and in time: recorded as seen
  expired,   // deadline passed
  duplicate, // id seen before
  overloaded // more live commands than the guard remembers; refused, not recorded
};

class CommandGuard {
public:
  explicit CommandGuard(std::size_t capacity = 10'000) : m_capacity(capacity) {}

  [[nodiscard]] CommandVerdict check(const protocol::Command& command, std::int64_t now_ms);
  [[nodiscard]] std::size_t remembered() const noexcept { return m_seen.size(); }

private:
  void forget_expired(std::int64_t now_ms);

  std::size_t m_capacity;
  std::unordered_map<std::string, std::int64_t> m_seen; // id → deadline (Unix ms)
};

} // namespace medic::agent::link
