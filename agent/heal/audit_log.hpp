// SPDX-License-Identifier: Apache-2.0
// The local audit trail of actions (fallback runs and refusals, and the coordinator's commands)
// and the saved heal budget, as tables in the agent's spool database, so that they are sent to
// the coordinator in order after a reconnect and survive restarts. Called on the spool worker
// thread only (through SpoolWrite closures or Spool::database() before the worker starts),
// since every call does disk I/O. None opens a transaction: the spool's append/write_state
// wraps them in one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/act/cooldown.hpp"
#include "agent/heal/heal_budget.hpp"
#include "protocol/message.hpp"
#include "shared/error.hpp"
#include "shared/sqlite/database.hpp"

namespace medic::agent::heal {

struct AuditRecord {
  std::uint64_t seq = 0; // assigned by append(): strictly increasing, never reused
  std::int64_t time_ms = 0;
  std::string origin; // "local" or "coordinator"
  std::string command_id;
  std::string rule;
  std::string action;
  std::vector<protocol::Label> params;
  std::string target;
  std::string status; // e.g. "succeeded", "failed", "dry_run", "needs_person", "skipped"
  std::int64_t exit_code = -1;
  std::int64_t duration_ms = 0;
  std::string reason;
  std::string output;
  friend bool operator==(const AuditRecord&, const AuditRecord&) = default;
};

class AuditLog {
public:
  AuditLog() = delete;

  // Creates heal_audit, heal_budget and heal_cooldown if missing. Safe to call on every start.
  [[nodiscard]] static Result<void> create_tables(sqlite::Database& db);
  // Stores the record (its seq is ignored) and returns the seq it got.
  [[nodiscard]] static Result<std::uint64_t> append(sqlite::Database& db,
                                                    const AuditRecord& record);
  // Records with seq > after_seq in seq order, at most `limit`.
  [[nodiscard]] static Result<std::vector<AuditRecord>> after(sqlite::Database& db,
                                                              std::uint64_t after_seq,
                                                              std::size_t limit);
  // The coordinator stored everything up to `seq`: deletes those records.
  [[nodiscard]] static Result<void> remove_through(sqlite::Database& db, std::uint64_t seq);
  // Keeps the newest `max_records`, deleting older ones (unsent or not); returns how many went.
  // The table must stay bounded even when the coordinator never comes back.
  [[nodiscard]] static Result<std::uint64_t> trim(sqlite::Database& db, std::uint64_t max_records);

  // Replaces the saved budget with `entries`.
  [[nodiscard]] static Result<void> save_budget(sqlite::Database& db,
                                                const std::vector<BudgetEntry>& entries);
  [[nodiscard]] static Result<std::vector<BudgetEntry>> load_budget(sqlite::Database& db);

  // Stores one action cooldown (replacing the key's earlier one), drops the ones over at
  // now_ms, and keeps at most `max_entries` (those ending last): bounded without a coordinator.
  [[nodiscard]] static Result<void> save_cooldown(sqlite::Database& db,
                                                  const act::CooldownEntry& entry,
                                                  std::int64_t now_ms, std::size_t max_entries);
  // The cooldowns still running at now_ms.
  [[nodiscard]] static Result<std::vector<act::CooldownEntry>> load_cooldowns(sqlite::Database& db,
                                                                              std::int64_t now_ms);
};

// Parameters as stored: each name and value as "<length>:<bytes>", so any byte may appear in
// them (audited values include refused, hostile ones). Exposed for tests.
[[nodiscard]] std::string encode_params(const std::vector<protocol::Label>& params);
[[nodiscard]] Result<std::vector<protocol::Label>> decode_params(std::string_view text);

} // namespace medic::agent::heal
