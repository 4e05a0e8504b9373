// SPDX-License-Identifier: Apache-2.0
// Approvals: a recovery the planner may not run on its own waits here for `medicctl approve`
// or `deny`; one not decided within plan.approval_timeout expires (the engine escalates it).
// Bounded: at most plan.max_pending_approvals pending, and the latest decided ones kept so the
// planner knows an action was denied or approved. Engine thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/correlate/incident.hpp"
#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::plan {

using ApprovalId = std::uint64_t;

enum class ApprovalState : std::uint8_t {
  pending,
  approved, // may run; becomes `used` when it starts
  denied,
  expired,
  used,
};

[[nodiscard]] std::string_view to_string(ApprovalState state) noexcept;

struct Approval {
  ApprovalId id = 0;
  correlate::IncidentId incident = 0;
  std::string host;
  std::string diagnosis; // learn::diagnosis_key
  std::string action;
  std::vector<protocol::Label> params;
  std::string risk;
  std::string reason; // why it needs approval (the decision's reason)
  std::int64_t requested_ms = 0;
  std::int64_t expires_ms = 0;
  ApprovalState state = ApprovalState::pending;
  std::string decided_by; // operator, or "timeout"
  std::int64_t decided_ms = 0;
  friend bool operator==(const Approval&, const Approval&) = default;
};

class ApprovalBook {
public:
  static constexpr std::size_t k_max_decided = 1'024;

  ApprovalBook(std::size_t max_pending, std::int64_t timeout_ms)
      : m_max_pending(max_pending), m_timeout_ms(timeout_ms) {}

  // Files `request` as pending (id, times and state are set here). A pending request for the
  // same incident and action is returned as it is. Fails (busy) when max_pending wait already.
  [[nodiscard]] Result<Approval> request(Approval request, std::int64_t now_ms);
  // Errors: not_found for an unknown id; invalid_argument when it is no longer pending (the
  // message says what it became) or has timed out (expire() still reports it once).
  [[nodiscard]] Result<Approval> approve(ApprovalId id, std::string_view who, std::int64_t now_ms);
  [[nodiscard]] Result<Approval> deny(ApprovalId id, std::string_view who, std::int64_t now_ms);
  // Pending approvals past their time become expired and are returned (once each).
  [[nodiscard]] std::vector<Approval> expire(std::int64_t now_ms);
  [[nodiscard]] std::vector<Approval> pending() const;
  // The latest approval for this incident and action, any state; nullptr when none.
  [[nodiscard]] const Approval* latest(correlate::IncidentId incident,
                                       std::string_view action) const;
  // An approved approval started running.
  void used(correlate::IncidentId incident, std::string_view action);

  // Every approval kept (pending and the latest decided), oldest first.
  [[nodiscard]] std::vector<Approval> all() const;
  // Replaces the book. Ids must be unique and not 0; new ids continue after the largest.
  [[nodiscard]] Result<void> restore(const std::vector<Approval>& approvals);

private:
  [[nodiscard]] Result<Approval> decide(ApprovalId id, std::string_view who, std::int64_t now_ms,
                                        ApprovalState to);
  void trim_decided();

  std::size_t m_max_pending;
  std::int64_t m_timeout_ms;
  std::map<ApprovalId, Approval> m_items; // ids grow: oldest first
  std::size_t m_pending = 0;
  ApprovalId m_next = 1;
};

} // namespace medic::coordinator::plan
