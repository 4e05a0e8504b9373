// SPDX-License-Identifier: Apache-2.0
// PostgresStore's silences: the same semantics as sqlite_store_silences.cpp, each call one
// committed transaction (written through).
#include <algorithm>
#include <limits>

#include <pqxx/pqxx>

#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"

namespace medic::coordinator::storage {

namespace {

constexpr std::string_view k_silence_columns =
    "SELECT id, matchers, starts_ms, ends_ms, created_by, created_ms, comment, expired_ms,"
    " expired_by FROM silences";

std::vector<SilenceRecord> silences_of(const pqxx::result& rows) {
  std::vector<SilenceRecord> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::int64_t>(),
                   row[3].as<std::int64_t>(), row[4].as<std::string>(), row[5].as<std::int64_t>(),
                   row[6].as<std::string>(), row[7].as<std::int64_t>(), row[8].as<std::string>()});
  }
  return out;
}

} // namespace

Result<void> PostgresStore::add_silence(const SilenceRecord& silence) {
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    const auto inserted = tx.exec_params(
        "INSERT INTO silences (id, matchers, starts_ms, ends_ms, created_by, created_ms, comment,"
        " expired_ms, expired_by) VALUES ($1, $2, $3::bigint, $4::bigint, $5, $6::bigint, $7,"
        " $8::bigint, $9) ON CONFLICT (id) DO NOTHING RETURNING id",
        pg::text(silence.id), pg::text(silence.matchers_json), silence.starts_ms, silence.ends_ms,
        pg::text(silence.created_by), silence.created_ms, pg::text(silence.comment),
        silence.expired_ms, pg::text(silence.expired_by));
    if (inserted.empty()) {
      return fail(ErrorCode::invalid_argument, "a silence with id " + silence.id + " exists");
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("adding silence " + silence.id));
  }
  return {};
}

Result<std::optional<SilenceRecord>> PostgresStore::expire_silence(std::string_view id,
                                                                   std::string_view actor,
                                                                   std::int64_t now_ms) {
  std::optional<SilenceRecord> found;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    tx.exec_params(
        "UPDATE silences SET expired_ms = $2::bigint, expired_by = $3,"
        " ends_ms = LEAST(ends_ms, $2::bigint)"
        " WHERE id = $1 AND expired_ms = 0 AND ends_ms > $2::bigint",
        pg::text(id), now_ms, pg::text(actor));
    auto rows = silences_of(
        tx.exec_params(std::string(k_silence_columns) + " WHERE id = $1", pg::text(id)));
    found.reset();
    if (!rows.empty()) {
      found = std::move(rows.front());
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("expiring silence " + std::string(id)));
  }
  return found;
}

Result<std::vector<SilenceRecord>> PostgresStore::list_silences(bool all, std::int64_t now_ms,
                                                                std::size_t limit) {
  const auto bound = static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
  std::vector<SilenceRecord> listed;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    listed = silences_of(all ? tx.exec_params(std::string(k_silence_columns) +
                                                  " ORDER BY created_ms DESC, id LIMIT $1::bigint",
                                              bound)
                             : tx.exec_params(std::string(k_silence_columns) +
                                                  " WHERE expired_ms = 0 AND ends_ms > $1::bigint"
                                                  " ORDER BY ends_ms, id LIMIT $2::bigint",
                                              now_ms, bound));
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("listing silences"));
  }
  return listed;
}

} // namespace medic::coordinator::storage
