// SPDX-License-Identifier: Apache-2.0
// SqliteStore's signals and log events: inserted with their batch (statements held open, since
// every batch may carry some), read back newest first for medicctl and the engines.
#include <limits>

#include "coordinator/storage/labels_json.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"

namespace medic::coordinator::storage {

namespace {

constexpr std::string_view k_insert_signal_sql =
    "INSERT INTO signals (agent_id, batch_seq, rule, state, severity, category, fingerprint,"
    " value, time_ms, labels, message, received_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

constexpr std::string_view k_insert_log_event_sql =
    "INSERT INTO log_events (agent_id, batch_seq, kind, source, path, time_ms, file_offset, text,"
    " rule, template_id, gap_bytes, labels, received_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

// One agent's events walk (agent_id, time_ms); the whole fleet's walk (time_ms). One statement
// for both, with "?1 = '' OR agent_id = ?1", would walk neither and sort every row it kept.
#define MEDIC_SELECT_SIGNALS                                                                  \
  "SELECT agent_id, batch_seq, rule, state, severity, category, fingerprint, value, time_ms," \
  " labels, message, received_ms FROM signals"
#define MEDIC_SELECT_LOG_EVENTS                                                       \
  "SELECT agent_id, batch_seq, kind, source, path, time_ms, file_offset, text, rule," \
  " template_id, gap_bytes, labels, received_ms FROM log_events"
#define MEDIC_OF_AGENT " WHERE agent_id = ?1 AND time_ms >= ?2 AND time_ms <= ?4"
#define MEDIC_OF_FLEET " WHERE ?1 = '' AND time_ms >= ?2 AND time_ms <= ?4"
#define MEDIC_NEWEST " ORDER BY time_ms DESC, id DESC LIMIT ?3"
#define MEDIC_OLDEST " ORDER BY time_ms ASC, id ASC LIMIT ?3"

// [for one agent][oldest first]
constexpr std::string_view k_select_signals_sql[2][2] = {
    {MEDIC_SELECT_SIGNALS MEDIC_OF_FLEET MEDIC_NEWEST,
     MEDIC_SELECT_SIGNALS MEDIC_OF_FLEET MEDIC_OLDEST},
    {MEDIC_SELECT_SIGNALS MEDIC_OF_AGENT MEDIC_NEWEST,
     MEDIC_SELECT_SIGNALS MEDIC_OF_AGENT MEDIC_OLDEST}};
constexpr std::string_view k_select_log_events_sql[2][2] = {
    {MEDIC_SELECT_LOG_EVENTS MEDIC_OF_FLEET MEDIC_NEWEST,
     MEDIC_SELECT_LOG_EVENTS MEDIC_OF_FLEET MEDIC_OLDEST},
    {MEDIC_SELECT_LOG_EVENTS MEDIC_OF_AGENT MEDIC_NEWEST,
     MEDIC_SELECT_LOG_EVENTS MEDIC_OF_AGENT MEDIC_OLDEST}};

#undef MEDIC_SELECT_SIGNALS
#undef MEDIC_SELECT_LOG_EVENTS
#undef MEDIC_OF_AGENT
#undef MEDIC_OF_FLEET
#undef MEDIC_NEWEST
#undef MEDIC_OLDEST

std::int64_t clamped(std::uint64_t value) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

std::int64_t limit_of(const EventQuery& query) {
  return static_cast<std::int64_t>(std::min<std::size_t>(query.limit, 100'000));
}

// Runs the SELECT over events that fits `query` (from `sql`, by [for one agent][oldest first])
// and turns each row into a record with `read_row`.
template <class Record, class ReadRow>
Result<std::vector<Record>> read_rows(sqlite::Database& db,
                                      const std::string_view (&sql)[2][2],
                                      const EventQuery& query, ReadRow read_row) {
  auto statement = db.prepare(sql[query.agent_id.empty() ? 0 : 1][query.oldest_first ? 1 : 0]);
  if (!statement) {
    return fail(std::move(statement).error());
  }
  statement->bind(1, std::string_view(query.agent_id))
      .bind(2, query.since_ms)
      .bind(3, limit_of(query))
      .bind(4, query.until_ms);
  return sqlite::collect_rows<Record>(*statement, read_row);
}

SignalRecord signal_from_row(const sqlite::Statement& row) {
  SignalRecord record;
  record.agent_id = row.column_text(0);
  record.batch_seq = static_cast<std::uint64_t>(row.column_int(1));
  protocol::Signal& signal = record.signal;
  signal.rule = row.column_text(2);
  signal.state =
      protocol::parse_signal_state(row.column_text(3)).value_or(protocol::SignalState::firing);
  signal.severity =
      protocol::parse_severity(row.column_text(4)).value_or(protocol::Severity::medium);
  signal.category =
      protocol::parse_category(row.column_text(5)).value_or(protocol::Category::resource);
  signal.fingerprint = row.column_text(6);
  signal.value = row.column_double(7);
  signal.time_ms = row.column_int(8);
  signal.labels = labels_from_json(row.column_text(9));
  signal.message = row.column_text(10);
  record.received_ms = row.column_int(11);
  return record;
}

LogEventRecord log_event_from_row(const sqlite::Statement& row) {
  LogEventRecord record;
  record.agent_id = row.column_text(0);
  record.batch_seq = static_cast<std::uint64_t>(row.column_int(1));
  protocol::LogEvent& event = record.event;
  event.kind =
      row.column_text(2) == "gap" ? protocol::LogEventKind::gap : protocol::LogEventKind::line;
  event.source = row.column_text(3);
  event.path = row.column_text(4);
  event.time_ms = row.column_int(5);
  event.offset = static_cast<std::uint64_t>(row.column_int(6));
  event.text = row.column_text(7);
  event.rule = row.column_text(8);
  if (!row.column_is_null(9)) {
    event.template_id = static_cast<std::uint32_t>(row.column_int(9));
  }
  event.gap_bytes = static_cast<std::uint64_t>(row.column_int(10));
  event.labels = labels_from_json(row.column_text(11));
  record.received_ms = row.column_int(12);
  return record;
}

} // namespace

Result<std::pair<sqlite::Statement, sqlite::Statement>> SqliteStore::prepare_event_statements(
    sqlite::Database& db) {
  auto signal = db.prepare(k_insert_signal_sql);
  if (!signal) {
    return fail(std::move(signal).error());
  }
  auto log_event = db.prepare(k_insert_log_event_sql);
  if (!log_event) {
    return fail(std::move(log_event).error());
  }
  return std::pair{std::move(*signal), std::move(*log_event)};
}

Result<void> SqliteStore::insert_events(std::string_view agent_id, std::int64_t seq,
                                        const protocol::Batch& batch, std::int64_t received_ms) {
  for (const auto& signal : batch.signals) {
    auto& statement = m_statements.insert_signal;
    const sqlite::ResetOnExit reset(statement);
    statement.bind(1, agent_id)
        .bind(2, seq)
        .bind(3, std::string_view(signal.rule))
        .bind(4, to_string(signal.state))
        .bind(5, to_string(signal.severity))
        .bind(6, to_string(signal.category))
        .bind(7, std::string_view(signal.fingerprint))
        .bind(8, signal.value)
        .bind(9, signal.time_ms)
        .bind(10, labels_to_json(signal.labels))
        .bind(11, std::string_view(signal.message))
        .bind(12, received_ms);
    if (auto done = statement.run(); !done) {
      return fail(std::move(done).error().context("storing signal " + signal.rule));
    }
  }
  for (const auto& event : batch.logs) {
    auto& statement = m_statements.insert_log_event;
    const sqlite::ResetOnExit reset(statement);
    statement.bind(1, agent_id)
        .bind(2, seq)
        .bind(3, event.kind == protocol::LogEventKind::gap ? "gap" : "line")
        .bind(4, std::string_view(event.source))
        .bind(5, std::string_view(event.path))
        .bind(6, event.time_ms)
        .bind(7, clamped(event.offset))
        .bind(8, std::string_view(event.text))
        .bind(9, std::string_view(event.rule))
        .bind(11, clamped(event.gap_bytes))
        .bind(12, labels_to_json(event.labels))
        .bind(13, received_ms);
    if (event.template_id) {
      statement.bind(10, static_cast<std::int64_t>(*event.template_id));
    } else {
      statement.bind_null(10);
    }
    if (auto done = statement.run(); !done) {
      return fail(std::move(done).error().context("storing log event from " + event.path));
    }
  }
  return {};
}

Result<std::vector<SignalRecord>> SqliteStore::recent_signals(const EventQuery& query) {
  auto records = read_rows<SignalRecord>(m_db, k_select_signals_sql, query, signal_from_row);
  if (!records) {
    return fail(std::move(records).error().context("reading signals"));
  }
  return records;
}

Result<std::vector<LogEventRecord>> SqliteStore::recent_log_events(const EventQuery& query) {
  auto records =
      read_rows<LogEventRecord>(m_db, k_select_log_events_sql, query, log_event_from_row);
  if (!records) {
    return fail(std::move(records).error().context("reading log events"));
  }
  return records;
}

} // namespace medic::coordinator::storage
