// SPDX-License-Identifier: Apache-2.0
// SqliteStore's incidents, audit trail and engine state: written by the engine's write-behind
// (one transaction per flush), read back by the admin side and at start-up. Statements are
// prepared per call: a flush happens about once a second, not per batch.
#include <algorithm>
#include <limits>

#include "coordinator/storage/labels_json.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"

namespace medic::coordinator::storage {

namespace {

using correlate::Incident;

constexpr std::string_view k_upsert_incident_sql =
    "INSERT INTO incidents (id, kind, fingerprint, agent_id, host, service, rule, category,"
    " severity, layer, labels, message, value, state, first_seen_ms, last_seen_ms, resolved_ms,"
    " signal_count, reopened, root_id, link, flapping, fleet_hosts, diagnosis, false_positive,"
    " escalated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
    " ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)"
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

constexpr std::string_view k_insert_audit_sql =
    "INSERT INTO audit (incident_id, time_ms, actor, kind, text, detail)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

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

void bind_incident(sqlite::Statement& s, const IncidentRecord& record) {
  const Incident& i = record.incident;
  s.bind(1, clamped(i.id))
      .bind(2, correlate::to_string(i.kind))
      .bind(3, i.fingerprint)
      .bind(4, i.agent_id)
      .bind(5, i.host)
      .bind(6, i.service)
      .bind(7, i.rule)
      .bind(8, protocol::to_string(i.category))
      .bind(9, protocol::to_string(i.severity))
      .bind(10, correlate::to_string(i.layer))
      .bind(11, labels_to_json(i.labels))
      .bind(12, i.message)
      .bind(13, i.value)
      .bind(14, correlate::to_string(i.state))
      .bind(15, i.first_seen_ms)
      .bind(16, i.last_seen_ms)
      .bind(17, i.resolved_ms)
      .bind(18, clamped(i.count))
      .bind(19, static_cast<std::int64_t>(i.reopened))
      .bind(20, clamped(i.root_id))
      .bind(21, correlate::to_string(i.link))
      .bind(22, static_cast<std::int64_t>(i.flapping ? 1 : 0))
      .bind(23, static_cast<std::int64_t>(i.fleet_hosts))
      .bind(24, record.diagnosis_json)
      .bind(25, static_cast<std::int64_t>(record.false_positive ? 1 : 0))
      .bind(26, static_cast<std::int64_t>(record.escalated ? 1 : 0));
}

IncidentRecord incident_from_row(const sqlite::Statement& row) {
  IncidentRecord record;
  Incident& i = record.incident;
  i.id = static_cast<correlate::IncidentId>(row.column_int(0));
  i.kind =
      parse_word<correlate::IncidentKind, 2>(row.column_text(1), correlate::IncidentKind::host);
  i.fingerprint = row.column_text(2);
  i.agent_id = row.column_text(3);
  i.host = row.column_text(4);
  i.service = row.column_text(5);
  i.rule = row.column_text(6);
  i.category = protocol::parse_category(row.column_text(7)).value_or(protocol::Category::resource);
  i.severity = protocol::parse_severity(row.column_text(8)).value_or(protocol::Severity::medium);
  i.layer = parse_word<correlate::Layer, 3>(row.column_text(9), correlate::Layer::service);
  i.labels = labels_from_json(row.column_text(10));
  i.message = row.column_text(11);
  i.value = row.column_double(12);
  i.state =
      parse_word<correlate::IncidentState, 2>(row.column_text(13), correlate::IncidentState::open);
  i.first_seen_ms = row.column_int(14);
  i.last_seen_ms = row.column_int(15);
  i.resolved_ms = row.column_int(16);
  i.count = static_cast<std::uint64_t>(row.column_int(17));
  i.reopened = static_cast<std::uint32_t>(row.column_int(18));
  i.root_id = static_cast<correlate::IncidentId>(row.column_int(19));
  i.link = parse_word<correlate::LinkReason, 4>(row.column_text(20), correlate::LinkReason::none);
  i.flapping = row.column_int(21) != 0;
  i.fleet_hosts = static_cast<std::uint32_t>(row.column_int(22));
  record.diagnosis_json = row.column_text(23);
  record.false_positive = row.column_int(24) != 0;
  record.escalated = row.column_int(25) != 0;
  return record;
}

template <class Record, class ReadRow>
Result<std::vector<Record>> read_all(sqlite::Statement& statement, ReadRow read_row) {
  std::vector<Record> records;
  for (;;) {
    auto row = statement.step();
    if (!row) {
      return fail(std::move(row).error());
    }
    if (!*row) {
      return records;
    }
    records.push_back(read_row(statement));
  }
}

} // namespace

Result<void> SqliteStore::save_incidents(std::span<const IncidentRecord> incidents,
                                         std::span<const AuditEntry> audit) {
  if (incidents.empty() && audit.empty()) {
    return {};
  }
  auto transaction = sqlite::Transaction::begin(m_db);
  if (!transaction) {
    return fail(std::move(transaction).error().context("saving incidents"));
  }
  if (!incidents.empty()) {
    auto upsert = m_db.prepare(k_upsert_incident_sql);
    if (!upsert) {
      return fail(std::move(upsert).error().context("saving incidents"));
    }
    for (const auto& record : incidents) {
      const sqlite::ResetOnExit reset(*upsert);
      bind_incident(*upsert, record);
      if (auto done = upsert->run(); !done) {
        return fail(std::move(done).error().context("saving incident " +
                                                    std::to_string(record.incident.id)));
      }
    }
  }
  if (!audit.empty()) {
    auto insert = m_db.prepare(k_insert_audit_sql);
    if (!insert) {
      return fail(std::move(insert).error().context("appending to the audit trail"));
    }
    for (const auto& entry : audit) {
      const sqlite::ResetOnExit reset(*insert);
      insert->bind(1, clamped(entry.incident_id))
          .bind(2, entry.time_ms)
          .bind(3, entry.actor)
          .bind(4, entry.kind)
          .bind(5, entry.text)
          .bind(6, entry.detail_json);
      if (auto done = insert->run(); !done) {
        return fail(std::move(done).error().context("appending to the audit trail"));
      }
    }
  }
  return transaction->commit();
}

Result<std::vector<IncidentRecord>> SqliteStore::list_incidents(const IncidentQuery& query) {
  const std::string sql =
      std::string(k_incident_columns) +
      " WHERE (?1 = 0 OR state = 'open') AND (?2 = '' OR host = ?2) AND last_seen_ms >= ?3"
      " ORDER BY last_seen_ms DESC, id DESC";
  auto statement = m_db.prepare(sql);
  if (!statement) {
    return fail(std::move(statement).error().context("listing incidents"));
  }
  statement->bind(1, static_cast<std::int64_t>(query.open_only ? 1 : 0))
      .bind(2, query.host)
      .bind(3, query.since_ms);
  // Severity is ranked in C++ (the column holds words); the limit applies after it.
  std::vector<IncidentRecord> kept;
  for (;;) {
    auto row = statement->step();
    if (!row) {
      return fail(std::move(row).error().context("listing incidents"));
    }
    if (!*row || kept.size() >= query.limit) {
      return kept;
    }
    auto record = incident_from_row(*statement);
    if (record.incident.severity <= query.min_severity) {
      kept.push_back(std::move(record));
    }
  }
}

Result<std::optional<IncidentRecord>> SqliteStore::get_incident(correlate::IncidentId id) {
  auto statement = m_db.prepare(std::string(k_incident_columns) + " WHERE id = ?1");
  if (!statement) {
    return fail(std::move(statement).error());
  }
  statement->bind(1, clamped(id));
  auto rows = read_all<IncidentRecord>(*statement, incident_from_row);
  if (!rows) {
    return fail(std::move(rows).error().context("reading incident " + std::to_string(id)));
  }
  if (rows->empty()) {
    return std::optional<IncidentRecord>();
  }
  return std::optional<IncidentRecord>(std::move(rows->front()));
}

Result<correlate::IncidentId> SqliteStore::max_incident_id() {
  auto statement = m_db.prepare("SELECT COALESCE(MAX(id), 0) FROM incidents");
  if (!statement) {
    return fail(std::move(statement).error());
  }
  auto row = statement->step();
  if (!row) {
    return fail(std::move(row).error());
  }
  return static_cast<correlate::IncidentId>(*row ? statement->column_int(0) : 0);
}

Result<std::vector<AuditEntry>> SqliteStore::incident_audit(correlate::IncidentId id,
                                                            std::size_t limit) {
  auto statement = m_db.prepare(
      "SELECT seq, incident_id, time_ms, actor, kind, text, detail FROM audit"
      " WHERE incident_id = ?1 ORDER BY seq LIMIT ?2");
  if (!statement) {
    return fail(std::move(statement).error());
  }
  statement->bind(1, clamped(id)).bind(2, clamped(std::min<std::size_t>(limit, 100'000)));
  return read_all<AuditEntry>(*statement, [](const sqlite::Statement& row) {
    return AuditEntry{static_cast<std::uint64_t>(row.column_int(0)),
                      static_cast<correlate::IncidentId>(row.column_int(1)),
                      row.column_int(2),
                      row.column_text(3),
                      row.column_text(4),
                      row.column_text(5),
                      row.column_text(6)};
  });
}

Result<void> SqliteStore::put_engine_state(std::string_view name, std::string_view document,
                                           std::int64_t now_ms) {
  auto statement = m_db.prepare(
      "INSERT INTO engine_state (name, document, updated_ms) VALUES (?1, ?2, ?3)"
      " ON CONFLICT (name) DO UPDATE SET document = excluded.document,"
      " updated_ms = excluded.updated_ms");
  if (!statement) {
    return fail(std::move(statement).error());
  }
  statement->bind(1, name).bind(2, document).bind(3, now_ms);
  if (auto done = statement->run(); !done) {
    return fail(std::move(done).error().context("saving engine state " + std::string(name)));
  }
  return {};
}

Result<std::optional<std::string>> SqliteStore::get_engine_state(std::string_view name) {
  auto statement = m_db.prepare("SELECT document FROM engine_state WHERE name = ?1");
  if (!statement) {
    return fail(std::move(statement).error());
  }
  statement->bind(1, name);
  auto row = statement->step();
  if (!row) {
    return fail(std::move(row).error().context("reading engine state " + std::string(name)));
  }
  if (!*row) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(statement->column_text(0));
}

} // namespace medic::coordinator::storage
