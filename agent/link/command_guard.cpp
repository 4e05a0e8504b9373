// SPDX-License-Identifier: Apache-2.0
#include "agent/link/command_guard.hpp"

namespace medic::agent::link {

CommandVerdict CommandGuard::check(const protocol::Command& command, std::int64_t now_ms) {
  if (m_seen.contains(command.id)) {
    return CommandVerdict::duplicate;
  }
  if (command.deadline_ms < now_ms) {
    return CommandVerdict::expired;
  }
  if (m_seen.size() >= m_capacity) {
    forget_expired(now_ms);
    if (m_seen.size() >= m_capacity) {
      return CommandVerdict::overloaded;
    }
  }
  m_seen.emplace(command.id, command.deadline_ms);
  return CommandVerdict::run;
}

void CommandGuard::forget_expired(std::int64_t now_ms) {
  std::erase_if(m_seen, [now_ms](const auto& entry) { return entry.second < now_ms; });
}

} // namespace medic::agent::link
