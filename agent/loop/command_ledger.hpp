// SPDX-License-Identifier: Apache-2.0
// The COMMANDs this agent accepted, kept until a day after their deadline, and their results:
// so a replayed id never runs twice, even across an agent restart, and gets its first outcome
// again. The memory side is the loop's; the SQL side (table `commands` in the spool database)
// runs on the spool worker through SpoolWrite closures, or before the loop starts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/message.hpp"
#include "shared/error.hpp"
#include "shared/sqlite/database.hpp"

namespace medic::agent::loop {

struct LedgerEntry {
  std::string id;
  std::int64_t deadline_ms = 0;
  std::optional<protocol::CommandResult> result; // absent while it runs
};

enum class LedgerVerdict : std::uint8_t {
  run,        // new and in time: recorded
  expired,    // the deadline passed
  duplicate,  // seen before; its result (if any) is resent
  overloaded, // more live commands than the ledger keeps: refused, not recorded
};

class CommandLedger {
public:
  static constexpr std::int64_t k_keep_after_deadline_ms = 24LL * 3600 * 1000;

  explicit CommandLedger(std::size_t capacity = 10'000) : m_capacity(capacity) {}

  void restore(std::vector<LedgerEntry> entries);
  [[nodiscard]] LedgerVerdict check(const protocol::Command& command, std::int64_t now_ms);
  void finished(const protocol::CommandResult& result);
  // The stored result of a command seen before, if it has finished.
  [[nodiscard]] const protocol::CommandResult* result_of(const std::string& id) const;
  [[nodiscard]] std::size_t size() const noexcept { return m_entries.size(); }

  // SQL side (spool worker thread, or before the loop starts).
  [[nodiscard]] static Result<void> create_table(sqlite::Database& db);
  [[nodiscard]] static Result<std::vector<LedgerEntry>> load(sqlite::Database& db,
                                                             std::int64_t now_ms);
  [[nodiscard]] static Result<void> save_accepted(sqlite::Database& db, const std::string& id,
                                                  std::int64_t deadline_ms);
  [[nodiscard]] static Result<void> save_result(sqlite::Database& db,
                                                const protocol::CommandResult& result);

private:
  void forget_old(std::int64_t now_ms);

  std::size_t m_capacity;
  std::map<std::string, LedgerEntry, std::less<>> m_entries;
};

} // namespace medic::agent::loop
