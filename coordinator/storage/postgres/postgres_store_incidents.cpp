// SPDX-License-Identifier: Apache-2.0
// PostgresStore's incidents, audit trail, engine state and agent keys: written by the engine's
// write-behind (about once a second) and by admin requests, read back by the admin side and at
// start-up. Statements are parameterised but not named-prepared: these calls are rare.
#include <algorithm>
#include <limits>

#include <pqxx/pqxx>

#include "coordinator/storage/labels_json.hpp"
#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"

namespace medic::coordinator::storage {

namespace {

using correlate::Incident;

constexpr const char* k_upsert_incident_sql =
    "INSERT INTO incidents (id, kind, fingerprint, agent_id, host, service, rule, category,"
    " severity, layer, labels, message, value, state, first_seen_ms, last_seen_ms, resolved_ms,"
    " signal_count, reopened, root_id, link, flapping, fleet_hosts, diagnosis, false_positive,"
    " escalated) VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
    " $13::float8, $14, $15::bigint, $16::bigint, $17::bigint, $18::bigint, $19::bigint,"
    " $20::bigint, $21, $22::boolean, $23::bigint, $24, $25::boolean, $26::boolean)"
    " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, fingerprint = excluded.fingerprint,"
    " agent_id = excluded.agent_id, host = excluded.host, service = excluded.service,"
    " rule = excluded.rule, category = excluded.category, severity = excluded.severity,"
    " layer = excluded.layer, labels = excluded.labels, message = excluded.message,"
    " value = excluded.value, state = excluded.state, first_seen_ms = excluded.first_seen_ms,"
    " last_seen_ms = excluded.last_seen_ms, resolved_ms = excluded.resolved_ms,"
    " signal_count = excluded.signal_count, reopened = excluded.reopened,"
    " root_id = excluded.root_id, link = excluded.link, flapping = excluded.flapping,"
    " fleet_hosts = excluded.fleet_hosts, diagnosis = excluded.diagnosis,"
    " false_positive = excluded.false_positive, escalated = excluded.escalated";

constexpr std::string_view k_incident_columns =
    "SELECT id, kind, fingerprint, agent_id, host, service, rule, category, severity, layer,"
    " labels, message, value, state, first_seen_ms, last_seen_ms, resolved_ms, signal_count,"
    " reopened, root_id, link, flapping, fleet_hosts, diagnosis, false_positive, escalated"
    " FROM incidents";

constexpr const char* k_insert_audit_sql =
    "INSERT INTO audit (incident_id, time_ms, actor, kind, text, detail)"
    " VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6)";

constexpr std::string_view k_key_columns =
    "SELECT public_key, agent_id, added_ms, COALESCE(revoked_ms, 0) FROM agent_keys";

// The enumerator of E whose to_string() is `text`; `fallback` for anything else (a row written
// by a newer binary is read, not refused).
template <class E, int Count>
E parse_word(std::string_view text, E fallback) {
  for (int i = 0; i < Count; ++i) {
    if (to_string(static_cast<E>(i)) == text) {
      return static_cast<E>(i);
    }
  }
  return fallback;
}

std::int64_t clamped(std::uint64_t value) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

std::string word(std::string_view text) {
  return std::string(text);
}

void upsert_incident(pqxx::transaction_base& tx, const IncidentRecord& record) {
  using pg::text;
  const Incident& i = record.incident;
  tx.exec_params(k_upsert_incident_sql, clamped(i.id), word(correlate::to_string(i.kind)),
                 text(i.fingerprint), text(i.agent_id), text(i.host), text(i.service), text(i.rule),
                 word(protocol::to_string(i.category)), word(protocol::to_string(i.severity)),
                 word(correlate::to_string(i.layer)), labels_to_json(i.labels), text(i.message),
                 i.value, word(correlate::to_string(i.state)), i.first_seen_ms, i.last_seen_ms,
                 i.resolved_ms, clamped(i.count), static_cast<std::int64_t>(i.reopened),
                 clamped(i.root_id), word(correlate::to_string(i.link)), i.flapping,
                 static_cast<std::int64_t>(i.fleet_hosts), text(record.diagnosis_json),
                 record.false_positive, record.escalated);
}

IncidentRecord incident_from_row(const pqxx::row& row) {
  IncidentRecord record;
  Incident& i = record.incident;
  i.id = static_cast<correlate::IncidentId>(row[0].as<std::int64_t>());
  i.kind = parse_word<correlate::IncidentKind, 2>(row[1].c_str(), correlate::IncidentKind::host);
  i.fingerprint = row[2].as<std::string>();
  i.agent_id = row[3].as<std::string>();
  i.host = row[4].as<std::string>();
  i.service = row[5].as<std::string>();
  i.rule = row[6].as<std::string>();
  i.category = protocol::parse_category(row[7].c_str()).value_or(protocol::Category::resource);
  i.severity = protocol::parse_severity(row[8].c_str()).value_or(protocol::Severity::medium);
  i.layer = parse_word<correlate::Layer, 3>(row[9].c_str(), correlate::Layer::service);
  i.labels = labels_from_json(row[10].c_str());
  i.message = row[11].as<std::string>();
  i.value = row[12].as<double>();
  i.state =
      parse_word<correlate::IncidentState, 2>(row[13].c_str(), correlate::IncidentState::open);
  i.first_seen_ms = row[14].as<std::int64_t>();
  i.last_seen_ms = row[15].as<std::int64_t>();
  i.resolved_ms = row[16].as<std::int64_t>();
  i.count = static_cast<std::uint64_t>(row[17].as<std::int64_t>());
  i.reopened = static_cast<std::uint32_t>(row[18].as<std::int64_t>());
  i.root_id = static_cast<correlate::IncidentId>(row[19].as<std::int64_t>());
  i.link = parse_word<correlate::LinkReason, 4>(row[20].c_str(), correlate::LinkReason::none);
  i.flapping = row[21].as<bool>();
  i.fleet_hosts = static_cast<std::uint32_t>(row[22].as<std::int64_t>());
  record.diagnosis_json = row[23].as<std::string>();
  record.false_positive = row[24].as<bool>();
  record.escalated = row[25].as<bool>();
  return record;
}

std::vector<AgentKey> keys_of(const pqxx::result& rows) {
  std::vector<AgentKey> keys;
  for (const auto& row : rows) {
    keys.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::int64_t>(),
                    row[3].as<std::int64_t>()});
  }
  return keys;
}

} // namespace

Result<void> PostgresStore::save_incidents(std::span<const IncidentRecord> incidents,
                                           std::span<const AuditEntry> audit) {
  if (incidents.empty() && audit.empty()) {
    return {};
  }
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    for (const auto& record : incidents) {
      upsert_incident(tx, record);
    }
    for (const auto& entry : audit) {
      tx.exec_params(k_insert_audit_sql, clamped(entry.incident_id), entry.time_ms,
                     pg::text(entry.actor), pg::text(entry.kind), pg::text(entry.text),
                     pg::text(entry.detail_json));
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("saving incidents"));
  }
  return {};
}

Result<std::vector<IncidentRecord>> PostgresStore::list_incidents(const IncidentQuery& query) {
  // Severity words are ranked here (the column holds words): the ones at or above the minimum.
  std::string severities = "{";
  for (int rank = 0; rank <= static_cast<int>(query.min_severity); ++rank) {
    pg::append_array_text(severities, protocol::to_string(static_cast<protocol::Severity>(rank)));
  }
  severities += '}';
  const std::string sql =
      std::string(k_incident_columns) +
      " WHERE ($1::boolean = FALSE OR state = 'open') AND ($2::text = '' OR host = $2::text)"
      " AND last_seen_ms >= $3::bigint AND severity = ANY($4::text[])"
      " ORDER BY last_seen_ms DESC, id DESC LIMIT $5::bigint";
  std::vector<IncidentRecord> records;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    records.clear();
    const auto limit = clamped(std::min<std::size_t>(query.limit, 100'000));
    for (const auto& row : tx.exec_params(sql, query.open_only, pg::text(query.host),
                                          query.since_ms, severities, limit)) {
      records.push_back(incident_from_row(row));
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("listing incidents"));
  }
  return records;
}

Result<std::optional<IncidentRecord>> PostgresStore::get_incident(correlate::IncidentId id) {
  std::optional<IncidentRecord> found;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    const auto rows =
        tx.exec_params(std::string(k_incident_columns) + " WHERE id = $1::bigint", clamped(id));
    found.reset();
    if (!rows.empty()) {
      found = incident_from_row(rows[0]);
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading incident " + std::to_string(id)));
  }
  return found;
}

Result<correlate::IncidentId> PostgresStore::max_incident_id() {
  correlate::IncidentId max = 0;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    max = static_cast<correlate::IncidentId>(
        tx.exec1("SELECT COALESCE(MAX(id), 0) FROM incidents")[0].as<std::int64_t>());
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading the highest incident id"));
  }
  return max;
}

Result<std::vector<AuditEntry>> PostgresStore::incident_audit(correlate::IncidentId id,
                                                              std::size_t limit) {
  std::vector<AuditEntry> entries;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    entries.clear();
    for (const auto& row :
         tx.exec_params("SELECT seq, incident_id, time_ms, actor, kind, text, detail FROM audit"
                        " WHERE incident_id = $1::bigint ORDER BY seq LIMIT $2::bigint",
                        clamped(id), clamped(std::min<std::size_t>(limit, 100'000)))) {
      entries.push_back({static_cast<std::uint64_t>(row[0].as<std::int64_t>()),
                         static_cast<correlate::IncidentId>(row[1].as<std::int64_t>()),
                         row[2].as<std::int64_t>(), row[3].as<std::string>(),
                         row[4].as<std::string>(), row[5].as<std::string>(),
                         row[6].as<std::string>()});
    }
    return {};
  });
  if (!done) {
    return fail(
        std::move(done).error().context("reading the audit of incident " + std::to_string(id)));
  }
  return entries;
}

Result<void> PostgresStore::put_engine_state(std::string_view name, std::string_view document,
                                             std::int64_t now_ms) {
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    tx.exec_params(
        "INSERT INTO engine_state (name, document, updated_ms)"
        " VALUES ($1, $2, $3::bigint) ON CONFLICT (name) DO UPDATE SET"
        " document = excluded.document, updated_ms = excluded.updated_ms",
        pg::text(name), pg::text(document), now_ms);
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("saving engine state " + std::string(name)));
  }
  return {};
}

Result<std::optional<std::string>> PostgresStore::get_engine_state(std::string_view name) {
  std::optional<std::string> document;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    const auto rows =
        tx.exec_params("SELECT document FROM engine_state WHERE name = $1", pg::text(name));
    document.reset();
    if (!rows.empty()) {
      document = rows[0][0].as<std::string>();
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading engine state " + std::string(name)));
  }
  return document;
}

Result<void> PostgresStore::add_key(const AgentKey& key) {
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    const auto found =
        keys_of(tx.exec_params(std::string(k_key_columns) + " WHERE public_key = $1 FOR UPDATE",
                               pg::text(key.public_key)));
    if (!found.empty()) {
      const AgentKey& old = found.front();
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
    tx.exec_params(
        "INSERT INTO agent_keys (public_key, agent_id, added_ms, revoked_ms)"
        " VALUES ($1, $2, $3::bigint, NULL)",
        pg::text(key.public_key), pg::text(key.agent_id), key.added_ms);
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("enrolling a key for agent " + key.agent_id));
  }
  return {};
}

Result<std::vector<AgentKey>> PostgresStore::revoke_keys(std::string_view agent_or_key,
                                                         std::int64_t now_ms) {
  std::vector<AgentKey> revoked;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    revoked =
        keys_of(tx.exec_params("UPDATE agent_keys SET revoked_ms = $2::bigint"
                               " WHERE (public_key = $1 OR agent_id = $1) AND revoked_ms IS NULL"
                               " RETURNING public_key, agent_id, added_ms, revoked_ms",
                               pg::text(agent_or_key), now_ms));
    // RETURNING has no ORDER BY; list them as list_keys() would.
    std::sort(revoked.begin(), revoked.end(), [](const AgentKey& a, const AgentKey& b) {
      return a.agent_id != b.agent_id ? a.agent_id < b.agent_id : a.public_key < b.public_key;
    });
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("revoking " + std::string(agent_or_key)));
  }
  return revoked;
}

Result<std::vector<AgentKey>> PostgresStore::list_keys() {
  std::vector<AgentKey> keys;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    keys = keys_of(tx.exec(std::string(k_key_columns) + " ORDER BY agent_id, public_key"));
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("listing keys"));
  }
  return keys;
}

} // namespace medic::coordinator::storage
