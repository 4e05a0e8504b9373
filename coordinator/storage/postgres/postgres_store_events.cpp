// SPDX-License-Identifier: Apache-2.0
// PostgresStore's events: signals, log events, action results, budgets and evidence, read back
// newest first. They are written with the batch that carried them (postgres_store_group.cpp),
// free text made storable with pg::text (a UTF8 database refuses NUL bytes and invalid UTF-8;
// SQLite keeps them as sent).
#include <algorithm>
#include <limits>

#include <pqxx/pqxx>

#include "coordinator/storage/labels_json.hpp"
#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"

namespace medic::coordinator::storage {

namespace {

// $1 agent ('' for all), $2 since, $3 until, $4 limit; %s the time column, %o the order.
constexpr const char* k_event_filter =
    " WHERE ($1::text = '' OR agent_id = $1::text) AND %s >= $2::bigint AND %s <= $3::bigint"
    " ORDER BY %s %o, id %o LIMIT $4::bigint";

constexpr const char* k_select_signals_sql =
    "SELECT agent_id, batch_seq, rule, state, severity, category, fingerprint, value, time_ms,"
    " labels, message, received_ms FROM signals";

constexpr const char* k_select_log_events_sql =
    "SELECT agent_id, batch_seq, kind, source, path, time_ms, file_offset, text, rule,"
    " template_id, gap_bytes, labels, received_ms FROM log_events";

constexpr const char* k_select_results_sql =
    "SELECT agent_id, batch_seq, command_id, origin, action, rule, target, params, status,"
    " reason, exit_code, started_ms, finished_ms, output, post_check, rollback,"
    " rollback_status, plan, audit_seq, received_ms FROM recovery_executions";

constexpr const char* k_select_evidence_sql =
    "SELECT agent_id, batch_seq, fingerprint, rule, action, time_ms, status, output, received_ms"
    " FROM evidence";

constexpr const char* k_select_budgets_sql =
    "SELECT agent_id, target, action, attempts, window_start_ms, next_allowed_ms, needs_person,"
    " updated_ms FROM heal_budgets WHERE ($1::text = '' OR agent_id = $1::text)"
    " ORDER BY agent_id, target, action";

enum class Order { newest_first, oldest_first };

std::string filtered(const char* select, std::string_view time_column, Order order) {
  std::string sql = select;
  std::string_view filter = k_event_filter;
  for (auto at = filter.find('%'); at != std::string_view::npos; at = filter.find('%')) {
    sql += filter.substr(0, at);
    if (filter[at + 1] == 's') {
      sql += time_column;
    } else {
      sql += order == Order::newest_first ? "DESC" : "ASC";
    }
    filter.remove_prefix(at + 2);
  }
  sql += filter;
  return sql;
}

// Prepares `name` (newest first) and `name`_oldest over the same SELECT.
void prepare_event_select(pqxx::connection_base& connection, const std::string& name,
                          const char* select, std::string_view time_column) {
  connection.prepare(name, filtered(select, time_column, Order::newest_first));
  connection.prepare(name + "_oldest", filtered(select, time_column, Order::oldest_first));
}

std::uint64_t u64(const pqxx::field& field) {
  return static_cast<std::uint64_t>(field.as<std::int64_t>());
}

SignalRecord signal_from_row(const pqxx::row& row) {
  SignalRecord record{row[0].as<std::string>(), u64(row[1]), {}, row[11].as<std::int64_t>()};
  protocol::Signal& signal = record.signal;
  signal.rule = row[2].as<std::string>();
  signal.state =
      protocol::parse_signal_state(row[3].c_str()).value_or(protocol::SignalState::firing);
  signal.severity = protocol::parse_severity(row[4].c_str()).value_or(protocol::Severity::medium);
  signal.category = protocol::parse_category(row[5].c_str()).value_or(protocol::Category::resource);
  signal.fingerprint = row[6].as<std::string>();
  signal.value = row[7].as<double>();
  signal.time_ms = row[8].as<std::int64_t>();
  signal.labels = labels_from_json(row[9].c_str());
  signal.message = row[10].as<std::string>();
  return record;
}

LogEventRecord log_event_from_row(const pqxx::row& row) {
  LogEventRecord record{row[0].as<std::string>(), u64(row[1]), {}, row[12].as<std::int64_t>()};
  protocol::LogEvent& event = record.event;
  event.kind = std::string_view(row[2].c_str()) == "gap" ? protocol::LogEventKind::gap
                                                         : protocol::LogEventKind::line;
  event.source = row[3].as<std::string>();
  event.path = row[4].as<std::string>();
  event.time_ms = row[5].as<std::int64_t>();
  event.offset = u64(row[6]);
  event.text = row[7].as<std::string>();
  event.rule = row[8].as<std::string>();
  if (!row[9].is_null()) {
    event.template_id = static_cast<std::uint32_t>(row[9].as<std::int64_t>());
  }
  event.gap_bytes = u64(row[10]);
  event.labels = labels_from_json(row[11].c_str());
  return record;
}

ResultRecord result_from_row(const pqxx::row& row) {
  ResultRecord record{row[0].as<std::string>(), u64(row[1]), {}, row[19].as<std::int64_t>()};
  protocol::CommandResult& r = record.result;
  r.command_id = row[2].as<std::string>();
  r.origin = row[3].as<std::string>();
  r.action = row[4].as<std::string>();
  r.rule = row[5].as<std::string>();
  r.target = row[6].as<std::string>();
  r.params = labels_from_json(row[7].c_str());
  r.status = protocol::parse_result_status(row[8].c_str()).value_or(protocol::ResultStatus::failed);
  r.reason = row[9].as<std::string>();
  r.exit_code = row[10].as<std::int64_t>();
  r.started_ms = row[11].as<std::int64_t>();
  r.finished_ms = row[12].as<std::int64_t>();
  r.output = row[13].as<std::string>();
  r.post_check = row[14].as<std::string>();
  r.rollback = row[15].as<std::string>();
  r.rollback_status = row[16].as<std::string>();
  r.plan = row[17].as<std::string>();
  r.audit_seq = u64(row[18]);
  return record;
}

BudgetRecord budget_from_row(const pqxx::row& row) {
  BudgetRecord record;
  record.agent_id = row[0].as<std::string>();
  record.budget.target = row[1].as<std::string>();
  record.budget.action = row[2].as<std::string>();
  record.budget.attempts = u64(row[3]);
  record.budget.window_start_ms = row[4].as<std::int64_t>();
  record.budget.next_allowed_ms = row[5].as<std::int64_t>();
  record.budget.needs_person = row[6].as<std::int64_t>() != 0;
  record.updated_ms = row[7].as<std::int64_t>();
  return record;
}

EvidenceRecord evidence_from_row(const pqxx::row& row) {
  EvidenceRecord record{row[0].as<std::string>(), u64(row[1]), {}, row[8].as<std::int64_t>()};
  record.evidence.fingerprint = row[2].as<std::string>();
  record.evidence.rule = row[3].as<std::string>();
  record.evidence.action = row[4].as<std::string>();
  record.evidence.time_ms = row[5].as<std::int64_t>();
  record.evidence.status =
      protocol::parse_result_status(row[6].c_str()).value_or(protocol::ResultStatus::failed);
  record.evidence.output = row[7].as<std::string>();
  return record;
}

// Runs a prepared event SELECT and turns each row into a record.
template <class Record, class ReadRow>
void read_events(pqxx::transaction_base& tx, const std::string& name, const EventQuery& query,
                 std::vector<Record>& records, ReadRow read_row) {
  records.clear();
  const auto limit = static_cast<std::int64_t>(std::min<std::size_t>(query.limit, 100'000));
  for (const auto& row :
       tx.exec_prepared(query.oldest_first ? name + "_oldest" : name, pg::text(query.agent_id),
                        query.since_ms, query.until_ms, limit)) {
    records.push_back(read_row(row));
  }
}

} // namespace

void PostgresStore::prepare_event_statements(pqxx::connection_base& connection) {
  prepare_event_select(connection, "select_signals", k_select_signals_sql, "time_ms");
  prepare_event_select(connection, "select_log_events", k_select_log_events_sql, "time_ms");
  prepare_event_select(connection, "select_results", k_select_results_sql, "started_ms");
  prepare_event_select(connection, "select_evidence", k_select_evidence_sql, "time_ms");
  connection.prepare("select_budgets", k_select_budgets_sql);
}

Result<std::vector<SignalRecord>> PostgresStore::recent_signals(const EventQuery& query) {
  std::vector<SignalRecord> records;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    read_events(tx, "select_signals", query, records, signal_from_row);
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading signals"));
  }
  return records;
}

Result<std::vector<LogEventRecord>> PostgresStore::recent_log_events(const EventQuery& query) {
  std::vector<LogEventRecord> records;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    read_events(tx, "select_log_events", query, records, log_event_from_row);
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading log events"));
  }
  return records;
}

Result<std::vector<ResultRecord>> PostgresStore::recent_results(const EventQuery& query) {
  std::vector<ResultRecord> records;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    read_events(tx, "select_results", query, records, result_from_row);
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading action results"));
  }
  return records;
}

Result<std::vector<EvidenceRecord>> PostgresStore::recent_evidence(const EventQuery& query) {
  std::vector<EvidenceRecord> records;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    read_events(tx, "select_evidence", query, records, evidence_from_row);
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading evidence"));
  }
  return records;
}

Result<std::vector<BudgetRecord>> PostgresStore::list_budgets(std::string_view agent_id) {
  std::vector<BudgetRecord> records;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    records.clear();
    for (const auto& row : tx.exec_prepared("select_budgets", pg::text(agent_id))) {
      records.push_back(budget_from_row(row));
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading remediation budgets"));
  }
  return records;
}

} // namespace medic::coordinator::storage
