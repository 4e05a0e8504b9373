// SPDX-License-Identifier: Apache-2.0
// SqliteStore's action outcomes, remediation budgets and diagnostic evidence: inserted with the
// batch that carried them (statements prepared only for a batch that has some: they are rare),
// read back newest first for medicctl and the engines.
#include <algorithm>
#include <limits>

#include "coordinator/storage/labels_json.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"

namespace medic::coordinator::storage {

namespace {

constexpr std::string_view k_insert_result_sql =
    "INSERT INTO recovery_executions (agent_id, batch_seq, command_id, origin, action, rule,"
    " target, params, status, reason, exit_code, started_ms, finished_ms, output, post_check,"
    " rollback, rollback_status, plan, audit_seq, received_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, ?20)";

// A budget report older than the stored one (a redelivered old batch) does not replace it.
constexpr std::string_view k_upsert_budget_sql =
    "INSERT INTO heal_budgets (agent_id, target, action, attempts, window_start_ms,"
    " next_allowed_ms, needs_person, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT (agent_id, target, action) DO UPDATE SET attempts = excluded.attempts,"
    " window_start_ms = excluded.window_start_ms, next_allowed_ms = excluded.next_allowed_ms,"
    " needs_person = excluded.needs_person, updated_ms = excluded.updated_ms"
    " WHERE excluded.updated_ms >= heal_budgets.updated_ms";

constexpr std::string_view k_insert_evidence_sql =
    "INSERT INTO evidence (agent_id, batch_seq, fingerprint, rule, action, time_ms, status,"
    " output, received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

#define MEDIC_SELECT_RESULTS                                                              \
  "SELECT agent_id, batch_seq, command_id, origin, action, rule, target, params, status," \
  " reason, exit_code, started_ms, finished_ms, output, post_check, rollback,"            \
  " rollback_status, plan, audit_seq, received_ms FROM recovery_executions"               \
  " WHERE (?1 = '' OR agent_id = ?1) AND started_ms >= ?2 AND started_ms <= ?4"
#define MEDIC_SELECT_EVIDENCE                                                                   \
  "SELECT agent_id, batch_seq, fingerprint, rule, action, time_ms, status, output, received_ms" \
  " FROM evidence WHERE (?1 = '' OR agent_id = ?1) AND time_ms >= ?2 AND time_ms <= ?4"

constexpr std::string_view k_select_results_sql =
    MEDIC_SELECT_RESULTS " ORDER BY started_ms DESC, id DESC LIMIT ?3";
constexpr std::string_view k_select_results_oldest_sql =
    MEDIC_SELECT_RESULTS " ORDER BY started_ms ASC, id ASC LIMIT ?3";

constexpr std::string_view k_select_budgets_sql =
    "SELECT agent_id, target, action, attempts, window_start_ms, next_allowed_ms, needs_person,"
    " updated_ms FROM heal_budgets WHERE (?1 = '' OR agent_id = ?1)"
    " ORDER BY agent_id, target, action";

constexpr std::string_view k_select_evidence_sql =
    MEDIC_SELECT_EVIDENCE " ORDER BY time_ms DESC, id DESC LIMIT ?3";
constexpr std::string_view k_select_evidence_oldest_sql =
    MEDIC_SELECT_EVIDENCE " ORDER BY time_ms ASC, id ASC LIMIT ?3";

#undef MEDIC_SELECT_RESULTS
#undef MEDIC_SELECT_EVIDENCE

std::int64_t clamped(std::uint64_t value) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

// Prepares `sql` and runs `bind_row(statement, item)` + step for each item.
template <class Items, class BindRow>
Result<void> insert_each(sqlite::Database& db, std::string_view sql, const Items& items,
                         std::string_view what, BindRow bind_row) {
  if (items.empty()) {
    return {};
  }
  auto statement = db.prepare(sql);
  if (!statement) {
    return fail(std::move(statement).error());
  }
  for (const auto& item : items) {
    const sqlite::ResetOnExit reset(*statement);
    bind_row(*statement, item);
    if (auto done = statement->run(); !done) {
      return fail(std::move(done).error().context("storing " + std::string(what)));
    }
  }
  return {};
}

template <class Record, class ReadRow>
Result<std::vector<Record>> select_rows(sqlite::Database& db, std::string_view sql,
                                        std::string_view agent_id, const EventQuery* query,
                                        ReadRow read_row) {
  auto statement = db.prepare(sql);
  if (!statement) {
    return fail(std::move(statement).error());
  }
  statement->bind(1, agent_id);
  if (query != nullptr) {
    statement->bind(2, query->since_ms)
        .bind(3, static_cast<std::int64_t>(std::min<std::size_t>(query->limit, 100'000)))
        .bind(4, query->until_ms);
  }
  std::vector<Record> records;
  for (;;) {
    auto row = statement->step();
    if (!row) {
      return fail(std::move(row).error());
    }
    if (!*row) {
      return records;
    }
    records.push_back(read_row(*statement));
  }
}

ResultRecord result_from_row(const sqlite::Statement& row) {
  ResultRecord record;
  record.agent_id = row.column_text(0);
  record.batch_seq = static_cast<std::uint64_t>(row.column_int(1));
  protocol::CommandResult& r = record.result;
  r.command_id = row.column_text(2);
  r.origin = row.column_text(3);
  r.action = row.column_text(4);
  r.rule = row.column_text(5);
  r.target = row.column_text(6);
  r.params = labels_from_json(row.column_text(7));
  r.status =
      protocol::parse_result_status(row.column_text(8)).value_or(protocol::ResultStatus::failed);
  r.reason = row.column_text(9);
  r.exit_code = row.column_int(10);
  r.started_ms = row.column_int(11);
  r.finished_ms = row.column_int(12);
  r.output = row.column_text(13);
  r.post_check = row.column_text(14);
  r.rollback = row.column_text(15);
  r.rollback_status = row.column_text(16);
  r.plan = row.column_text(17);
  r.audit_seq = static_cast<std::uint64_t>(row.column_int(18));
  record.received_ms = row.column_int(19);
  return record;
}

BudgetRecord budget_from_row(const sqlite::Statement& row) {
  BudgetRecord record;
  record.agent_id = row.column_text(0);
  record.budget.target = row.column_text(1);
  record.budget.action = row.column_text(2);
  record.budget.attempts = static_cast<std::uint64_t>(row.column_int(3));
  record.budget.window_start_ms = row.column_int(4);
  record.budget.next_allowed_ms = row.column_int(5);
  record.budget.needs_person = row.column_int(6) != 0;
  record.updated_ms = row.column_int(7);
  return record;
}

EvidenceRecord evidence_from_row(const sqlite::Statement& row) {
  EvidenceRecord record;
  record.agent_id = row.column_text(0);
  record.batch_seq = static_cast<std::uint64_t>(row.column_int(1));
  record.evidence.fingerprint = row.column_text(2);
  record.evidence.rule = row.column_text(3);
  record.evidence.action = row.column_text(4);
  record.evidence.time_ms = row.column_int(5);
  record.evidence.status =
      protocol::parse_result_status(row.column_text(6)).value_or(protocol::ResultStatus::failed);
  record.evidence.output = row.column_text(7);
  record.received_ms = row.column_int(8);
  return record;
}

} // namespace

Result<void> SqliteStore::insert_actions(std::string_view agent_id, std::int64_t seq,
                                         const protocol::Batch& batch, std::int64_t received_ms) {
  auto results = insert_each(
      m_db, k_insert_result_sql, batch.results, "an action result",
      [&](sqlite::Statement& s, const protocol::CommandResult& r) {
        s.bind(1, agent_id).bind(2, seq).bind(3, std::string_view(r.command_id));
        s.bind(4, std::string_view(r.origin)).bind(5, std::string_view(r.action));
        s.bind(6, std::string_view(r.rule)).bind(7, std::string_view(r.target));
        s.bind(8, labels_to_json(r.params)).bind(9, to_string(r.status));
        s.bind(10, std::string_view(r.reason)).bind(11, r.exit_code).bind(12, r.started_ms);
        s.bind(13, r.finished_ms).bind(14, std::string_view(r.output));
        s.bind(15, std::string_view(r.post_check)).bind(16, std::string_view(r.rollback));
        s.bind(17, std::string_view(r.rollback_status)).bind(18, std::string_view(r.plan));
        s.bind(19, clamped(r.audit_seq)).bind(20, received_ms);
      });
  if (!results) {
    return results;
  }
  auto budgets = insert_each(m_db, k_upsert_budget_sql, batch.budgets, "a remediation budget",
                             [&](sqlite::Statement& s, const protocol::BudgetReport& b) {
                               s.bind(1, agent_id).bind(2, std::string_view(b.target));
                               s.bind(3, std::string_view(b.action)).bind(4, clamped(b.attempts));
                               s.bind(5, b.window_start_ms).bind(6, b.next_allowed_ms);
                               s.bind(7, std::int64_t{b.needs_person ? 1 : 0});
                               s.bind(8, received_ms);
                             });
  if (!budgets) {
    return budgets;
  }
  return insert_each(m_db, k_insert_evidence_sql, batch.evidence, "diagnostic evidence",
                     [&](sqlite::Statement& s, const protocol::Evidence& e) {
                       s.bind(1, agent_id).bind(2, seq).bind(3, std::string_view(e.fingerprint));
                       s.bind(4, std::string_view(e.rule)).bind(5, std::string_view(e.action));
                       s.bind(6, e.time_ms).bind(7, to_string(e.status));
                       s.bind(8, std::string_view(e.output)).bind(9, received_ms);
                     });
}

Result<std::vector<ResultRecord>> SqliteStore::recent_results(const EventQuery& query) {
  auto records = select_rows<ResultRecord>(
      m_db, query.oldest_first ? k_select_results_oldest_sql : k_select_results_sql, query.agent_id,
      &query, result_from_row);
  if (!records) {
    return fail(std::move(records).error().context("reading action results"));
  }
  return records;
}

Result<std::vector<BudgetRecord>> SqliteStore::list_budgets(std::string_view agent_id) {
  auto records =
      select_rows<BudgetRecord>(m_db, k_select_budgets_sql, agent_id, nullptr, budget_from_row);
  if (!records) {
    return fail(std::move(records).error().context("reading remediation budgets"));
  }
  return records;
}

Result<std::vector<EvidenceRecord>> SqliteStore::recent_evidence(const EventQuery& query) {
  auto records = select_rows<EvidenceRecord>(
      m_db, query.oldest_first ? k_select_evidence_oldest_sql : k_select_evidence_sql,
      query.agent_id, &query, evidence_from_row);
  if (!records) {
    return fail(std::move(records).error().context("reading evidence"));
  }
  return records;
}

} // namespace medic::coordinator::storage
