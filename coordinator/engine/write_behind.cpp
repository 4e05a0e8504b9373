// SPDX-License-Identifier: Apache-2.0
#include "coordinator/engine/write_behind.hpp"

namespace medic::coordinator::engine {

void WriteBehind::audit(storage::AuditEntry entry) {
  if (m_audit.size() >= m_max_audit) {
    ++m_lost;
    return;
  }
  m_audit.push_back(std::move(entry));
}

PendingWrites WriteBehind::take() {
  PendingWrites writes;
  writes.incidents.reserve(m_incidents.size());
  for (auto& [id, record] : m_incidents) {
    writes.incidents.push_back(std::move(record));
  }
  m_incidents.clear();
  writes.audit = std::move(m_audit);
  m_audit.clear();
  return writes;
}

void WriteBehind::put_back(PendingWrites writes) {
  for (auto& record : writes.incidents) {
    // A newer snapshot of the same incident, taken since, wins.
    m_incidents.try_emplace(record.incident.id, std::move(record));
  }
  if (writes.audit.size() + m_audit.size() > m_max_audit) {
    const std::size_t room = m_max_audit > m_audit.size() ? m_max_audit - m_audit.size() : 0;
    m_lost += writes.audit.size() - std::min(room, writes.audit.size());
    writes.audit.resize(std::min(room, writes.audit.size()));
  }
  writes.audit.insert(writes.audit.end(), std::make_move_iterator(m_audit.begin()),
                      std::make_move_iterator(m_audit.end()));
  m_audit = std::move(writes.audit);
}

} // namespace medic::coordinator::engine
