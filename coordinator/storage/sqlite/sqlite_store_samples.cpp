// SPDX-License-Identifier: Apache-2.0
// SqliteStore: raw samples (one packed row per batch), minute and hour roll-ups, retention and
// the daily healing figures.
#include <cstddef>
#include <limits>
#include <span>
#include <string>

#include "coordinator/storage/sqlite/sqlite_store.hpp"

namespace medic::coordinator::storage {

namespace {

// DO UPDATE (a no-op change) rather than DO NOTHING so RETURNING gives the id in both cases.
constexpr std::string_view k_upsert_series_sql =
    "INSERT INTO series (agent_id, name, labels) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (agent_id, name, labels) DO UPDATE SET name = excluded.name RETURNING id";

constexpr std::string_view k_insert_sample_batch_sql =
    "INSERT INTO sample_batches (agent_id, seq, time_ms, count, packed)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";

// Merged, so a batch that arrives after its minute was written adds to it.
constexpr std::string_view k_merge_minute_sql =
    "INSERT INTO rollups_minute (series_id, bucket_ms, count, sum, min, max)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET count = count + excluded.count,"
    " sum = sum + excluded.sum, min = MIN(min, excluded.min), max = MAX(max, excluded.max)";

// An hour is computed from its minutes, so computing it again gives the same row.
constexpr std::string_view k_roll_hour_sql =
    "INSERT INTO rollups_hour (series_id, bucket_ms, count, sum, min, max)"
    " SELECT series_id, ?1, SUM(count), SUM(sum), MIN(min), MAX(max) FROM rollups_minute"
    " WHERE bucket_ms >= ?1 AND bucket_ms < ?1 + 3600000 GROUP BY series_id"
    " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET count = excluded.count,"
    " sum = excluded.sum, min = excluded.min, max = excluded.max";

constexpr std::string_view k_hours_done_sql = "SELECT hours_done_ms FROM rollup_progress";
constexpr std::string_view k_set_hours_done_sql =
    "INSERT INTO rollup_progress (id, hours_done_ms) VALUES (1, ?1)"
    " ON CONFLICT (id) DO UPDATE SET hours_done_ms = excluded.hours_done_ms";
constexpr std::string_view k_first_minute_sql = "SELECT MIN(bucket_ms) FROM rollups_minute";

constexpr std::string_view k_upsert_daily_sql =
    "INSERT INTO daily_healing_metrics (day, opened, resolved, auto_recovered, escalated,"
    " false_positives, actions, actions_succeeded, mttd_ms, mttr_ms, updated_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (day) DO UPDATE SET opened = excluded.opened, resolved = excluded.resolved,"
    " auto_recovered = excluded.auto_recovered, escalated = excluded.escalated,"
    " false_positives = excluded.false_positives, actions = excluded.actions,"
    " actions_succeeded = excluded.actions_succeeded, mttd_ms = excluded.mttd_ms,"
    " mttr_ms = excluded.mttr_ms, updated_ms = excluded.updated_ms";

Result<void> storage_error(Error error, const std::string& what) {
  return fail(std::move(error).context(what));
}

} // namespace

Result<void> SqliteStore::store_samples(std::string_view agent_id, std::int64_t seq,
                                        const protocol::Batch& batch) {
  if (batch.samples.empty()) {
    return {};
  }
  if (!m_sample_statements) {
    auto upsert = m_db.prepare(k_upsert_series_sql);
    auto insert = m_db.prepare(k_insert_sample_batch_sql);
    if (!upsert || !insert) {
      return fail(ErrorCode::storage, "preparing the sample statements: " + m_db.last_error());
    }
    m_sample_statements = std::make_unique<SampleStatements>(
        SampleStatements{std::move(*upsert), std::move(*insert)});
  }
  const std::size_t first = m_series.mark().staged; // this batch's samples start here
  const auto agent = m_series.agent(agent_id);
  std::int64_t base_ms = std::numeric_limits<std::int64_t>::max();
  const auto describe = [](const protocol::Sample& sample) {
    return std::pair<std::string_view, std::string>(sample.name, canonical_labels(sample.labels));
  };
  const auto number = [&](std::string_view name, std::string_view labels) -> Result<std::int64_t> {
    auto& statement = m_sample_statements->upsert_series;
    const sqlite::ResetOnExit reset(statement);
    statement.bind(1, agent_id).bind(2, name).bind(3, labels);
    auto row = statement.step();
    if (!row || !*row) {
      return fail(ErrorCode::storage, "numbering series " + std::string(name) + ": " +
                                          (row ? "no id returned" : row.error().message()));
    }
    return statement.column_int(0);
  };
  for (std::size_t position = 0; position < batch.samples.size(); ++position) {
    const auto& sample = batch.samples[position];
    if (auto staged = m_series.stage_sample(agent, agent_id, position, sample, describe, number);
        !staged) {
      return staged;
    }
    base_ms = std::min(base_ms, sample.time_ms);
  }
  pack_samples(m_pack_scratch, m_series.staged(first), base_ms);
  auto& insert = m_sample_statements->insert_batch;
  const sqlite::ResetOnExit reset(insert);
  insert.bind(1, agent_id)
      .bind(2, seq)
      .bind(3, base_ms)
      .bind(4, static_cast<std::int64_t>(batch.samples.size()))
      .bind_blob_view(5, std::as_bytes(std::span(m_pack_scratch.data(), m_pack_scratch.size())));
  if (auto ran = insert.run(); !ran) {
    return storage_error(std::move(ran).error(), "storing the raw samples");
  }
  return {};
}

Result<std::size_t> SqliteStore::flush_latest(std::size_t budget) {
  auto& statement = m_statements.upsert_latest;
  std::size_t written = 0;
  for (; m_latest_written < m_latest_pending.size() && written < budget;
       ++m_latest_written, ++written) {
    const auto& point = m_latest_pending[m_latest_written];
    const sqlite::ResetOnExit reset(statement);
    statement.bind(1, point.series_id).bind(2, point.value).bind(3, point.time_ms);
    if (auto ran = statement.run(); !ran) {
      return fail(std::move(ran).error().context(
          "writing the latest values of " + std::to_string(m_latest_pending.size()) + " series"));
    }
  }
  return written;
}

void SqliteStore::settle_latest() {
  if (m_latest_written == m_latest_pending.size()) {
    m_latest_pending.clear();
    m_latest_written = 0;
  }
}

Result<void> SqliteStore::flush_latest_now() {
  if (m_series.pending_latest() == 0 && m_latest_pending.empty()) {
    return {};
  }
  // Appended after the ones still waiting, so a series in both gets its newer value last.
  m_series.take_latest(m_latest_pending);
  const auto before = m_latest_written;
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return fail(std::move(tx).error());
  }
  if (auto flushed = flush_latest(std::numeric_limits<std::size_t>::max()); !flushed) {
    m_latest_written = before; // rolled back with the transaction: written again next time
    return fail(std::move(flushed).error());
  }
  if (auto committed = tx->commit(); !committed) {
    tx->rollback();
    m_latest_written = before;
    return committed;
  }
  settle_latest();
  return {};
}

Result<RollupFlush> SqliteStore::flush_rollups(std::int64_t closed_before_ms) {
  // Latest values matter to readers only through list_agents, which writes them all first;
  // written behind every 5 minutes they only spare a restart the older values.
  constexpr std::int64_t k_latest_every_ms = 300'000;
  const bool everything = closed_before_ms == std::numeric_limits<std::int64_t>::max();
  std::size_t budget = everything ? std::numeric_limits<std::size_t>::max() : k_flush_rows;
  RollupFlush flush;
  m_series.take_closed(closed_before_ms, m_rollup_pending);
  if (m_latest_pending.empty() &&
      (everything || m_latest_taken_ms == std::numeric_limits<std::int64_t>::min() ||
       closed_before_ms - m_latest_taken_ms >= k_latest_every_ms)) {
    m_series.take_latest(m_latest_pending);
    m_latest_taken_ms = closed_before_ms;
  }
  const auto latest_before = m_latest_written;
  const auto rollups_before = m_rollups_written;
  // Whatever this transaction does not commit is written again by the next call.
  const auto undo = [&] {
    m_latest_written = latest_before;
    m_rollups_written = rollups_before;
  };
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return fail(std::move(tx).error());
  }
  auto latest = flush_latest(budget);
  if (!latest) {
    undo();
    return fail(std::move(latest).error());
  }
  budget -= std::min(budget, *latest);
  if (m_rollups_written < m_rollup_pending.size() && budget > 0) {
    auto merge = m_db.prepare(k_merge_minute_sql);
    if (!merge) {
      undo();
      return fail(std::move(merge).error());
    }
    for (; m_rollups_written < m_rollup_pending.size() && budget > 0;
         ++m_rollups_written, --budget, ++flush.minute_rows) {
      const auto& row = m_rollup_pending[m_rollups_written];
      merge->bind(1, row.series_id)
          .bind(2, row.bucket_ms)
          .bind(3, row.count)
          .bind(4, row.sum)
          .bind(5, row.min)
          .bind(6, row.max);
      auto ran = merge->run();
      merge->reset();
      if (!ran) {
        undo();
        return fail(std::move(ran).error().context("writing minute roll-ups"));
      }
    }
  }
  // Whole hours before the oldest minute still open (or the cut-off) roll up, once every minute
  // taken has been written.
  const bool minutes_written = m_rollups_written == m_rollup_pending.size();
  if (!everything && minutes_written) {
    auto hours = roll_hours(bucket_start(closed_before_ms, k_hour_ms));
    if (!hours) {
      undo();
      return fail(std::move(hours).error());
    }
    flush.hours = *hours;
  }
  if (auto committed = tx->commit(); !committed) {
    tx->rollback();
    undo();
    return fail(std::move(committed).error().context(
        "committing " + std::to_string(flush.minute_rows) + " minute roll-ups"));
  }
  settle_latest();
  if (minutes_written) {
    m_rollup_pending.clear();
    m_rollups_written = 0;
  }
  flush.open_buckets = m_series.open_buckets() + (m_rollup_pending.size() - m_rollups_written);
  flush.dropped = m_series.dropped();
  return flush;
}

Result<std::size_t> SqliteStore::roll_hours(std::int64_t hours_before_ms) {
  auto done = m_db.prepare(k_hours_done_sql);
  if (!done) {
    return fail(std::move(done).error());
  }
  auto row = done->step();
  if (!row) {
    return fail(std::move(row).error());
  }
  std::int64_t next = 0;
  if (*row) {
    next = done->column_int(0);
  } else {
    auto first = m_db.prepare(k_first_minute_sql);
    if (!first) {
      return fail(std::move(first).error());
    }
    auto any = first->step();
    if (!any) {
      return fail(std::move(any).error());
    }
    if (!*any || first->column_is_null(0)) {
      return std::size_t{0}; // no minute yet
    }
    next = bucket_start(first->column_int(0), k_hour_ms);
  }
  std::size_t hours = 0;
  auto roll = m_db.prepare(k_roll_hour_sql);
  if (!roll) {
    return fail(std::move(roll).error());
  }
  // Bounded: a database idle for years catches up a week of hours per flush.
  for (; next < hours_before_ms && hours < 24 * 7; next += k_hour_ms, ++hours) {
    roll->bind(1, next);
    auto ran = roll->run();
    roll->reset();
    if (!ran) {
      return fail(std::move(ran).error().context("rolling up the hour at " + std::to_string(next)));
    }
  }
  auto set = m_db.prepare(k_set_hours_done_sql);
  if (!set) {
    return fail(std::move(set).error());
  }
  set->bind(1, next);
  if (auto ran = set->run(); !ran) {
    return fail(std::move(ran).error());
  }
  return hours;
}

Result<std::vector<LatestSample>> SqliteStore::read_samples(const SeriesQuery& query) {
  auto select = m_db.prepare(
      "SELECT b.time_ms, b.packed FROM sample_batches b WHERE b.agent_id = ?1"
      " AND b.time_ms <= ?3 AND b.time_ms >= ?2 - 600000 ORDER BY b.time_ms, b.id");
  auto names = m_db.prepare("SELECT id, name, labels FROM series WHERE agent_id = ?1");
  if (!select || !names) {
    return fail(ErrorCode::storage, "reading samples: " + m_db.last_error());
  }
  std::unordered_map<std::int64_t, std::pair<std::string, std::string>> series;
  names->bind(1, std::string_view(query.agent_id));
  for (;;) {
    auto row = names->step();
    if (!row) {
      return fail(std::move(row).error());
    }
    if (!*row) {
      break;
    }
    series[names->column_int(0)] = {names->column_text(1), names->column_text(2)};
  }
  select->bind(1, std::string_view(query.agent_id)).bind(2, query.since_ms).bind(3, query.until_ms);
  std::vector<LatestSample> out;
  std::vector<PackedSample> unpacked;
  while (out.size() < query.limit) {
    auto row = select->step();
    if (!row) {
      return fail(std::move(row).error());
    }
    if (!*row) {
      break;
    }
    unpacked.clear();
    if (auto ok = unpack_samples(select->column_blob(1), select->column_int(0), unpacked); !ok) {
      return fail(std::move(ok).error());
    }
    append_points(unpacked, series, query, out);
  }
  return out;
}

Result<std::vector<SeriesRollup>> SqliteStore::read_rollups(RollupPeriod period,
                                                            const SeriesQuery& query) {
  const std::string table = period == RollupPeriod::minute ? "rollups_minute" : "rollups_hour";
  auto select = m_db.prepare(
      "SELECT s.name, s.labels, r.bucket_ms, r.count, r.sum, r.min, r.max FROM " + table +
      " r JOIN series s ON s.id = r.series_id WHERE s.agent_id = ?1"
      " AND (?2 = '' OR s.name = ?2) AND (?3 IS NULL OR s.labels = ?3)"
      " AND r.bucket_ms >= ?4 AND r.bucket_ms <= ?5 ORDER BY r.bucket_ms, s.name, s.labels"
      " LIMIT ?6");
  if (!select) {
    return fail(std::move(select).error());
  }
  select->bind(1, std::string_view(query.agent_id)).bind(2, std::string_view(query.name));
  if (query.labels) {
    select->bind(3, std::string_view(*query.labels));
  } else {
    select->bind_null(3);
  }
  select->bind(4, query.since_ms)
      .bind(5, query.until_ms)
      .bind(6, static_cast<std::int64_t>(
                   std::min<std::size_t>(query.limit, std::numeric_limits<std::int64_t>::max())));
  return sqlite::collect_rows<SeriesRollup>(*select, [](const sqlite::Statement& row) {
    return SeriesRollup{row.column_text(0),  row.column_text(1),   row.column_int(2),
                        row.column_int(3),   row.column_double(4), row.column_double(5),
                        row.column_double(6)};
  });
}

Result<RetentionOutcome> SqliteStore::apply_retention(const RetentionPolicy& policy,
                                                      std::int64_t now_ms) {
  struct Rule {
    std::int64_t keep_ms;
    const char* sql;       // ?1 cut-off, ?2 row limit
    bool seq_gaps = false; // deletes gaps m_seqs holds: it must reload them
  };
  // Tables whose ids grow with time are trimmed from their oldest ids: a bounded scan with no
  // extra index to maintain on the write path.
  const Rule rules[] = {
      {policy.raw_ms,
       "DELETE FROM sample_batches WHERE id IN (SELECT id FROM sample_batches"
       " WHERE time_ms < ?1 ORDER BY time_ms LIMIT ?2)"},
      // WITHOUT ROWID tables: by primary key.
      // Gaps in agents' seqs (seq_ledger.hpp) as old as the raw samples: a batch that late is
      // taken for a redelivery. m_seqs is cleared below when any went.
      {policy.raw_ms,
       "DELETE FROM batch_gaps WHERE (agent_id, first_seq) IN (SELECT agent_id,"
       " first_seq FROM batch_gaps WHERE created_ms < ?1 LIMIT ?2)",
       true},
      {policy.minute_ms,
       "DELETE FROM rollups_minute WHERE (series_id, bucket_ms) IN (SELECT"
       " series_id, bucket_ms FROM rollups_minute WHERE bucket_ms < ?1"
       " LIMIT ?2)"},
      {policy.hour_ms,
       "DELETE FROM rollups_hour WHERE (series_id, bucket_ms) IN (SELECT"
       " series_id, bucket_ms FROM rollups_hour WHERE bucket_ms < ?1 LIMIT ?2)"},
      {policy.events_ms,
       "DELETE FROM signals WHERE id IN (SELECT id FROM (SELECT id, received_ms"
       " FROM signals ORDER BY id LIMIT ?2) WHERE received_ms < ?1)"},
      {policy.events_ms,
       "DELETE FROM log_events WHERE id IN (SELECT id FROM (SELECT id,"
       " received_ms FROM log_events ORDER BY id LIMIT ?2) WHERE received_ms < ?1)"},
      {policy.events_ms,
       "DELETE FROM evidence WHERE id IN (SELECT id FROM (SELECT id, received_ms"
       " FROM evidence ORDER BY id LIMIT ?2) WHERE received_ms < ?1)"},
  };
  RetentionOutcome outcome;
  const auto limit = static_cast<std::int64_t>(policy.max_rows_per_call);
  for (const auto& rule : rules) {
    if (rule.keep_ms <= 0) {
      continue;
    }
    auto statement = m_db.prepare(rule.sql);
    if (!statement) {
      return fail(std::move(statement).error());
    }
    statement->bind(1, now_ms - rule.keep_ms).bind(2, limit);
    if (auto ran = statement->run(); !ran) {
      return fail(std::move(ran).error().context("applying retention"));
    }
    const auto deleted = static_cast<std::size_t>(m_db.changes());
    if (deleted > 0 && rule.seq_gaps) {
      m_seqs.clear();
    }
    outcome.deleted += deleted;
    outcome.more = outcome.more || deleted >= policy.max_rows_per_call;
  }
  return outcome;
}

Result<void> SqliteStore::put_daily_metrics(const DailyHealingMetrics& m) {
  auto upsert = m_db.prepare(k_upsert_daily_sql);
  if (!upsert) {
    return fail(std::move(upsert).error());
  }
  upsert->bind(1, std::string_view(m.day))
      .bind(2, m.opened)
      .bind(3, m.resolved)
      .bind(4, m.auto_recovered)
      .bind(5, m.escalated)
      .bind(6, m.false_positives)
      .bind(7, m.actions)
      .bind(8, m.actions_succeeded)
      .bind(9, m.mttd_ms)
      .bind(10, m.mttr_ms)
      .bind(11, m.updated_ms);
  if (auto ran = upsert->run(); !ran) {
    return fail(std::move(ran).error().context("storing the daily healing metrics of " + m.day));
  }
  return {};
}

Result<std::vector<DailyHealingMetrics>> SqliteStore::list_daily_metrics(std::size_t limit) {
  auto select = m_db.prepare(
      "SELECT day, opened, resolved, auto_recovered, escalated, false_positives, actions,"
      " actions_succeeded, mttd_ms, mttr_ms, updated_ms FROM daily_healing_metrics"
      " ORDER BY day DESC LIMIT ?1");
  if (!select) {
    return fail(std::move(select).error());
  }
  select->bind(1, static_cast<std::int64_t>(std::min<std::size_t>(limit, 100'000)));
  return sqlite::collect_rows<DailyHealingMetrics>(*select, [](const sqlite::Statement& row) {
    return DailyHealingMetrics{row.column_text(0),   row.column_int(1), row.column_int(2),
                               row.column_int(3),    row.column_int(4), row.column_int(5),
                               row.column_int(6),    row.column_int(7), row.column_double(8),
                               row.column_double(9), row.column_int(10)};
  });
}

} // namespace medic::coordinator::storage
