// SPDX-License-Identifier: Apache-2.0
// The engine's writes, gathered on the loop and handed to the storage worker about once a
// second as one transaction: incidents as they last stood (one row per incident however often
// it changed) and the audit entries in order. Bounded: past `max_audit` entries waiting, the
// newest are counted as lost rather than held (the database is failing or far behind).
// Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "coordinator/storage/store.hpp"

namespace medic::coordinator::engine {

struct PendingWrites {
  std::vector<storage::IncidentRecord> incidents;
  std::vector<storage::AuditEntry> audit;
  [[nodiscard]] bool empty() const noexcept { return incidents.empty() && audit.empty(); }
};

class WriteBehind {
public:
  explicit WriteBehind(std::size_t max_audit = 100'000) : m_max_audit(max_audit) {}

  void incident(const storage::IncidentRecord& record) { m_incidents[record.incident.id] = record; }
  void audit(storage::AuditEntry entry);

  // Everything waiting, in order; the buffer is empty afterwards.
  [[nodiscard]] PendingWrites take();
  // A flush that failed: its writes go back in front of anything newer.
  void put_back(PendingWrites writes);

  [[nodiscard]] std::size_t waiting() const noexcept { return m_audit.size() + m_incidents.size(); }
  [[nodiscard]] std::uint64_t lost() const noexcept { return m_lost; }

private:
  std::size_t m_max_audit;
  std::map<correlate::IncidentId, storage::IncidentRecord> m_incidents;
  std::vector<storage::AuditEntry> m_audit;
  std::uint64_t m_lost = 0;
};

} // namespace medic::coordinator::engine
