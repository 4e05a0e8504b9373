// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/command_ledger.hpp"

#include <algorithm>
#include <span>
#include <variant>

#include "protocol/codec.hpp"

namespace medic::agent::loop {

void CommandLedger::restore(std::vector<LedgerEntry> entries) {
  for (auto& entry : entries) {
    std::string id = entry.id;
    m_entries.insert_or_assign(std::move(id), std::move(entry));
  }
}

LedgerVerdict CommandLedger::check(const protocol::Command& command, std::int64_t now_ms) {
  if (m_entries.find(command.id) != m_entries.end()) {
    return LedgerVerdict::duplicate;
  }
  if (command.deadline_ms < now_ms) {
    return LedgerVerdict::expired;
  }
  forget_old(now_ms);
  if (m_entries.size() >= m_capacity) {
    return LedgerVerdict::overloaded;
  }
  m_entries.emplace(command.id, LedgerEntry{command.id, command.deadline_ms, std::nullopt});
  return LedgerVerdict::run;
}

void CommandLedger::finished(const protocol::CommandResult& result) {
  auto found = m_entries.find(result.command_id);
  if (found != m_entries.end()) {
    found->second.result = result;
  }
}

const protocol::CommandResult* CommandLedger::result_of(const std::string& id) const {
  auto found = m_entries.find(id);
  return found != m_entries.end() && found->second.result ? &*found->second.result : nullptr;
}

// An id is only forgotten once its deadline is long past: a replay of it is refused as
// expired by then anyway.
void CommandLedger::forget_old(std::int64_t now_ms) {
  std::erase_if(m_entries, [now_ms](const auto& item) {
    return item.second.deadline_ms + k_keep_after_deadline_ms < now_ms;
  });
}

Result<void> CommandLedger::create_table(sqlite::Database& db) {
  return db.exec(
      "CREATE TABLE IF NOT EXISTS commands (id TEXT PRIMARY KEY,"
      " deadline_ms INTEGER NOT NULL, result BLOB)");
}

Result<std::vector<LedgerEntry>> CommandLedger::load(sqlite::Database& db, std::int64_t now_ms) {
  const std::int64_t oldest = now_ms - k_keep_after_deadline_ms;
  auto pruned = db.prepare("DELETE FROM commands WHERE deadline_ms < ?1");
  if (!pruned) {
    return fail(std::move(pruned).error());
  }
  pruned->bind(1, oldest);
  if (auto done = pruned->run(); !done) {
    return fail(std::move(done).error());
  }
  auto select = db.prepare("SELECT id, deadline_ms, result FROM commands");
  if (!select) {
    return fail(std::move(select).error());
  }
  std::vector<LedgerEntry> entries;
  for (;;) {
    auto row = select->step();
    if (!row) {
      return fail(std::move(row).error());
    }
    if (!*row) {
      return entries;
    }
    LedgerEntry entry{select->column_text(0), select->column_int(1), std::nullopt};
    if (!select->column_is_null(2)) {
      // The RESULT frame this agent encoded itself; one that no longer decodes is dropped
      // (the id is still remembered, so the command does not run again).
      auto decoded = protocol::decode(select->column_blob(2));
      if (decoded && std::holds_alternative<protocol::CommandResult>(decoded->body)) {
        entry.result = std::get<protocol::CommandResult>(decoded->body);
      }
    }
    entries.push_back(std::move(entry));
  }
}

Result<void> CommandLedger::save_accepted(sqlite::Database& db, const std::string& id,
                                          std::int64_t deadline_ms) {
  auto insert = db.prepare("INSERT OR IGNORE INTO commands (id, deadline_ms) VALUES (?1, ?2)");
  if (!insert) {
    return fail(std::move(insert).error());
  }
  insert->bind(1, std::string_view(id)).bind(2, deadline_ms);
  return insert->run();
}

Result<void> CommandLedger::save_result(sqlite::Database& db,
                                        const protocol::CommandResult& result) {
  std::string frame;
  protocol::Envelope envelope;
  envelope.agent_id = "ledger"; // not sent: only this agent reads it back
  protocol::encode_result(frame, envelope, result);
  auto update = db.prepare("UPDATE commands SET result = ?2 WHERE id = ?1");
  if (!update) {
    return fail(std::move(update).error());
  }
  update->bind(1, std::string_view(result.command_id))
      .bind_blob(2, std::as_bytes(std::span(frame.data(), frame.size())));
  return update->run();
}

} // namespace medic::agent::loop
