// SPDX-License-Identifier: Apache-2.0
// SqliteStore's agent keys: the ZAP allowlist. Rare admin operations, so their statements are
// prepared per call instead of held open.
#include "coordinator/storage/sqlite/sqlite_store.hpp"

namespace medic::coordinator::storage {

namespace {

Result<std::vector<AgentKey>> read_keys(sqlite::Statement& statement) {
  return sqlite::collect_rows<AgentKey>(statement, [](const sqlite::Statement& row) {
    return AgentKey{row.column_text(0), row.column_text(1), row.column_int(2),
                    row.column_is_null(3) ? 0 : row.column_int(3)};
  });
}

} // namespace

Result<void> SqliteStore::add_key(const AgentKey& key) {
  const std::string where = "enrolling a key for agent " + key.agent_id;
  auto existing = m_db.prepare(
      "SELECT public_key, agent_id, added_ms, revoked_ms FROM agent_keys WHERE public_key = ?1");
  if (!existing) {
    return fail(std::move(existing).error().context(where));
  }
  existing->bind(1, key.public_key);
  auto found = read_keys(*existing);
  if (!found) {
    return fail(std::move(found).error().context(where));
  }
  if (!found->empty()) {
    const AgentKey& old = found->front();
    if (old.revoked_ms != 0) {
      return fail(ErrorCode::invalid_argument,
                  "this key was revoked; the agent must generate a new key pair");
    }
    if (old.agent_id != key.agent_id) {
      return fail(ErrorCode::invalid_argument,
                  "this key is already enrolled for agent " + old.agent_id);
    }
    return {};
  }
  auto insert = m_db.prepare(
      "INSERT INTO agent_keys (public_key, agent_id, added_ms, revoked_ms) VALUES (?1, ?2, ?3, "
      "NULL)");
  if (!insert) {
    return fail(std::move(insert).error().context(where));
  }
  insert->bind(1, key.public_key).bind(2, key.agent_id).bind(3, key.added_ms);
  if (auto done = insert->run(); !done) {
    return fail(std::move(done).error().context(where));
  }
  return {};
}

Result<std::vector<AgentKey>> SqliteStore::revoke_keys(std::string_view agent_or_key,
                                                       std::int64_t now_ms) {
  const std::string where = "revoking " + std::string(agent_or_key);
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return fail(std::move(tx).error().context(where));
  }
  auto select = m_db.prepare(
      "SELECT public_key, agent_id, added_ms, revoked_ms FROM agent_keys"
      " WHERE (public_key = ?1 OR agent_id = ?1) AND revoked_ms IS NULL");
  auto update = m_db.prepare(
      "UPDATE agent_keys SET revoked_ms = ?2"
      " WHERE (public_key = ?1 OR agent_id = ?1) AND revoked_ms IS NULL");
  if (!select || !update) {
    return fail((select ? std::move(update).error() : std::move(select).error()).context(where));
  }
  select->bind(1, agent_or_key);
  auto revoked = read_keys(*select);
  if (!revoked) {
    return fail(std::move(revoked).error().context(where));
  }
  update->bind(1, agent_or_key).bind(2, now_ms);
  if (auto done = update->run(); !done) {
    return fail(std::move(done).error().context(where));
  }
  if (auto committed = tx->commit(); !committed) {
    return fail(std::move(committed).error().context(where));
  }
  for (auto& key : *revoked) {
    key.revoked_ms = now_ms;
  }
  return revoked;
}

Result<std::vector<AgentKey>> SqliteStore::list_keys() {
  auto select = m_db.prepare(
      "SELECT public_key, agent_id, added_ms, revoked_ms FROM agent_keys"
      " ORDER BY agent_id, public_key");
  if (!select) {
    return fail(std::move(select).error().context("listing keys"));
  }
  auto keys = read_keys(*select);
  if (!keys) {
    return fail(std::move(keys).error().context("listing keys"));
  }
  return keys;
}

} // namespace medic::coordinator::storage
