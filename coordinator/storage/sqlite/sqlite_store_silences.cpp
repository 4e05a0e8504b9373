// SPDX-License-Identifier: Apache-2.0
// SqliteStore's silences. Rare operator requests, so statements are prepared per call; each call
// is its own committed transaction (written through).
#include "coordinator/storage/sqlite/sqlite_store.hpp"

namespace medic::coordinator::storage {

namespace {

constexpr const char* k_columns =
    "SELECT id, matchers, starts_ms, ends_ms, created_by, created_ms, comment, expired_ms,"
    " expired_by FROM silences";

Result<std::vector<SilenceRecord>> read_silences(sqlite::Statement& statement) {
  return sqlite::collect_rows<SilenceRecord>(statement, [](const sqlite::Statement& row) {
    return SilenceRecord{row.column_text(0), row.column_text(1), row.column_int(2),
                         row.column_int(3),  row.column_text(4), row.column_int(5),
                         row.column_text(6), row.column_int(7),  row.column_text(8)};
  });
}

} // namespace

Result<void> SqliteStore::add_silence(const SilenceRecord& silence) {
  const std::string where = "adding silence " + silence.id;
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return fail(std::move(tx).error().context(where));
  }
  auto existing = m_db.prepare(std::string(k_columns) + " WHERE id = ?1");
  if (!existing) {
    return fail(std::move(existing).error().context(where));
  }
  existing->bind(1, silence.id);
  auto found = read_silences(*existing);
  if (!found) {
    return fail(std::move(found).error().context(where));
  }
  if (!found->empty()) {
    return fail(ErrorCode::invalid_argument, "a silence with id " + silence.id + " exists");
  }
  auto insert = m_db.prepare(
      "INSERT INTO silences (id, matchers, starts_ms, ends_ms, created_by, created_ms, comment,"
      " expired_ms, expired_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!insert) {
    return fail(std::move(insert).error().context(where));
  }
  insert->bind(1, silence.id)
      .bind(2, silence.matchers_json)
      .bind(3, silence.starts_ms)
      .bind(4, silence.ends_ms)
      .bind(5, silence.created_by)
      .bind(6, silence.created_ms)
      .bind(7, silence.comment)
      .bind(8, silence.expired_ms)
      .bind(9, silence.expired_by);
  if (auto done = insert->run(); !done) {
    return fail(std::move(done).error().context(where));
  }
  if (auto committed = tx->commit(); !committed) {
    return fail(std::move(committed).error().context(where));
  }
  return {};
}

Result<std::optional<SilenceRecord>> SqliteStore::expire_silence(std::string_view id,
                                                                 std::string_view actor,
                                                                 std::int64_t now_ms) {
  const std::string where = "expiring silence " + std::string(id);
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return fail(std::move(tx).error().context(where));
  }
  auto update = m_db.prepare(
      "UPDATE silences SET expired_ms = ?2, expired_by = ?3, ends_ms = MIN(ends_ms, ?2)"
      " WHERE id = ?1 AND expired_ms = 0 AND ends_ms > ?2");
  auto select = m_db.prepare(std::string(k_columns) + " WHERE id = ?1");
  if (!update || !select) {
    return fail((update ? std::move(select).error() : std::move(update).error()).context(where));
  }
  update->bind(1, id).bind(2, now_ms).bind(3, actor);
  if (auto done = update->run(); !done) {
    return fail(std::move(done).error().context(where));
  }
  select->bind(1, id);
  auto found = read_silences(*select);
  if (!found) {
    return fail(std::move(found).error().context(where));
  }
  if (auto committed = tx->commit(); !committed) {
    return fail(std::move(committed).error().context(where));
  }
  if (found->empty()) {
    return std::optional<SilenceRecord>();
  }
  return std::optional<SilenceRecord>(std::move(found->front()));
}

Result<std::vector<SilenceRecord>> SqliteStore::list_silences(bool all, std::int64_t now_ms,
                                                              std::size_t limit) {
  auto select =
      m_db.prepare(std::string(k_columns) +
                   (all ? " ORDER BY created_ms DESC, id LIMIT ?2"
                        : " WHERE expired_ms = 0 AND ends_ms > ?1 ORDER BY ends_ms, id LIMIT ?2"));
  if (!select) {
    return fail(std::move(select).error().context("listing silences"));
  }
  select->bind(1, now_ms).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(
                                      limit, std::numeric_limits<std::int64_t>::max())));
  auto listed = read_silences(*select);
  if (!listed) {
    return fail(std::move(listed).error().context("listing silences"));
  }
  return listed;
}

} // namespace medic::coordinator::storage
