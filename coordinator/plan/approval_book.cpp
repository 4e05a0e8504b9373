// SPDX-License-Identifier: Apache-2.0
#include "coordinator/plan/approval_book.hpp"

#include <utility>

namespace medic::coordinator::plan {

std::string_view to_string(ApprovalState state) noexcept {
  switch (state) {
  case ApprovalState::pending: return "pending";
  case ApprovalState::approved: return "approved";
  case ApprovalState::denied: return "denied";
  case ApprovalState::expired: return "expired";
  case ApprovalState::used: return "used";
  }
  return "unknown";
}

Result<Approval> ApprovalBook::request(Approval request, std::int64_t now_ms) {
  if (const Approval* existing = latest(request.incident, request.action);
      existing != nullptr && existing->state == ApprovalState::pending) {
    return *existing;
  }
  if (m_pending >= m_max_pending) {
    return fail(ErrorCode::busy, std::to_string(m_pending) +
                                     " approvals are pending (plan.max_pending_approvals); '" +
                                     request.action + "' for incident " +
                                     std::to_string(request.incident) + " was not filed");
  }
  request.id = m_next++;
  request.requested_ms = now_ms;
  request.expires_ms = now_ms + m_timeout_ms;
  request.state = ApprovalState::pending;
  request.decided_by.clear();
  request.decided_ms = 0;
  ++m_pending;
  return m_items.emplace(request.id, std::move(request)).first->second;
}

Result<Approval> ApprovalBook::approve(ApprovalId id, std::string_view who, std::int64_t now_ms) {
  return decide(id, who, now_ms, ApprovalState::approved);
}

Result<Approval> ApprovalBook::deny(ApprovalId id, std::string_view who, std::int64_t now_ms) {
  return decide(id, who, now_ms, ApprovalState::denied);
}

Result<Approval> ApprovalBook::decide(ApprovalId id, std::string_view who, std::int64_t now_ms,
                                      ApprovalState to) {
  const auto found = m_items.find(id);
  if (found == m_items.end()) {
    return fail(ErrorCode::not_found, "no approval " + std::to_string(id));
  }
  Approval& approval = found->second;
  if (approval.state != ApprovalState::pending) {
    return fail(ErrorCode::invalid_argument, "approval " + std::to_string(id) + " is already " +
                                                 std::string(to_string(approval.state)));
  }
  if (now_ms >= approval.expires_ms) {
    // Left pending: expire() hands it to the engine, which escalates it.
    return fail(ErrorCode::invalid_argument,
                "approval " + std::to_string(id) + " timed out; the incident is escalated instead");
  }
  approval.state = to;
  approval.decided_by = who;
  approval.decided_ms = now_ms;
  --m_pending;
  Approval copy = approval;
  trim_decided();
  return copy;
}

std::vector<Approval> ApprovalBook::expire(std::int64_t now_ms) {
  std::vector<Approval> expired;
  for (auto& [id, approval] : m_items) {
    if (approval.state == ApprovalState::pending && now_ms >= approval.expires_ms) {
      approval.state = ApprovalState::expired;
      approval.decided_by = "timeout";
      approval.decided_ms = now_ms;
      --m_pending;
      expired.push_back(approval);
    }
  }
  trim_decided();
  return expired;
}

std::vector<Approval> ApprovalBook::pending() const {
  std::vector<Approval> result;
  for (const auto& [id, approval] : m_items) {
    if (approval.state == ApprovalState::pending) {
      result.push_back(approval);
    }
  }
  return result;
}

const Approval* ApprovalBook::latest(correlate::IncidentId incident,
                                     std::string_view action) const {
  for (auto it = m_items.rbegin(); it != m_items.rend(); ++it) {
    if (it->second.incident == incident && it->second.action == action) {
      return &it->second;
    }
  }
  return nullptr;
}

void ApprovalBook::used(correlate::IncidentId incident, std::string_view action) {
  for (auto it = m_items.rbegin(); it != m_items.rend(); ++it) {
    if (it->second.incident == incident && it->second.action == action) {
      if (it->second.state == ApprovalState::approved) {
        it->second.state = ApprovalState::used;
      }
      return;
    }
  }
}

std::vector<Approval> ApprovalBook::all() const {
  std::vector<Approval> result;
  result.reserve(m_items.size());
  for (const auto& [id, approval] : m_items) {
    result.push_back(approval);
  }
  return result;
}

Result<void> ApprovalBook::restore(const std::vector<Approval>& approvals) {
  std::map<ApprovalId, Approval> items;
  for (std::size_t i = 0; i < approvals.size(); ++i) {
    const Approval& approval = approvals[i];
    if (approval.id == 0 || !items.emplace(approval.id, approval).second) {
      return fail(ErrorCode::invalid_argument,
                  "restoring approvals: approvals[" + std::to_string(i) + "] has id " +
                      std::to_string(approval.id) + ", which is 0 or repeated");
    }
  }
  m_items = std::move(items);
  m_pending = 0;
  for (const auto& [id, approval] : m_items) {
    m_pending += approval.state == ApprovalState::pending ? 1 : 0;
  }
  m_next = m_items.empty() ? 1 : m_items.rbegin()->first + 1;
  trim_decided();
  return {};
}

void ApprovalBook::trim_decided() {
  std::size_t decided = m_items.size() - m_pending;
  for (auto it = m_items.begin(); decided > k_max_decided && it != m_items.end();) {
    if (it->second.state != ApprovalState::pending) {
      it = m_items.erase(it);
      --decided;
    } else {
      ++it;
    }
  }
}

} // namespace medic::coordinator::plan
