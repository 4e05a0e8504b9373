// SPDX-License-Identifier: Apache-2.0
// PostgresStore: raw samples (one packed row per batch), minute and hour roll-ups, retention and
// the daily healing figures. The same SQL as SqliteStore where the dialects agree.
#include <algorithm>
#include <limits>
#include <unordered_set>

#include <pqxx/pqxx>

#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"

namespace medic::coordinator::storage {

namespace {

constexpr std::string_view k_merge_minute_sql =
    "INSERT INTO rollups_minute AS r (series_id, bucket_ms, count, sum, min, max)"
    " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::float8[],"
    " $5::float8[], $6::float8[])"
    " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET count = r.count + excluded.count,"
    " sum = r.sum + excluded.sum, min = LEAST(r.min, excluded.min),"
    " max = GREATEST(r.max, excluded.max)";

// Latest values by series id; the series row gives the key latest_samples is kept under.
// ">=": of two values with the same time, the later one written wins.
constexpr std::string_view k_upsert_latest_sql =
    "INSERT INTO latest_samples (agent_id, name, labels, value, time_ms)"
    " SELECT s.agent_id, s.name, s.labels, u.value, u.time_ms"
    " FROM unnest($1::bigint[], $2::float8[], $3::bigint[]) AS u(id, value, time_ms)"
    " JOIN series s ON s.id = u.id"
    " ON CONFLICT (agent_id, name, labels) DO UPDATE SET value = excluded.value,"
    " time_ms = excluded.time_ms WHERE excluded.time_ms >= latest_samples.time_ms";

// Rows per statement of a flush.
constexpr std::size_t k_flush_slice = 5'000;

// Whether a statement already holds a row for a key: ON CONFLICT DO UPDATE may not touch a row
// twice in one statement, so a repeated key starts the next statement.
struct PairHash {
  std::size_t operator()(const std::pair<std::int64_t, std::int64_t>& key) const noexcept {
    return std::hash<std::int64_t>{}(key.first * 1'000'003 + key.second);
  }
};

constexpr std::string_view k_roll_hour_sql =
    "INSERT INTO rollups_hour (series_id, bucket_ms, count, sum, min, max)"
    " SELECT series_id, $1::bigint, SUM(count), SUM(sum), MIN(min), MAX(max) FROM rollups_minute"
    " WHERE bucket_ms >= $1 AND bucket_ms < $1 + 3600000 GROUP BY series_id"
    " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET count = excluded.count,"
    " sum = excluded.sum, min = excluded.min, max = excluded.max";

constexpr std::string_view k_upsert_daily_sql =
    "INSERT INTO daily_healing_metrics (day, opened, resolved, auto_recovered, escalated,"
    " false_positives, actions, actions_succeeded, mttd_ms, mttr_ms, updated_ms)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (day) DO UPDATE SET opened = excluded.opened, resolved = excluded.resolved,"
    " auto_recovered = excluded.auto_recovered, escalated = excluded.escalated,"
    " false_positives = excluded.false_positives, actions = excluded.actions,"
    " actions_succeeded = excluded.actions_succeeded, mttd_ms = excluded.mttd_ms,"
    " mttr_ms = excluded.mttr_ms, updated_ms = excluded.updated_ms";

} // namespace

void PostgresStore::prepare_sample_statements(pqxx::connection_base& connection) {
  connection.prepare("merge_minutes", std::string(k_merge_minute_sql));
  connection.prepare("upsert_latest", std::string(k_upsert_latest_sql));
}

std::size_t PostgresStore::flush_latest(pqxx::transaction_base& tx, std::size_t budget) {
  std::size_t written = 0;
  std::unordered_set<std::int64_t> in_statement;
  while (m_latest_written < m_latest_pending.size() && written < budget) {
    std::string ids = "{", values = "{", times = "{";
    in_statement.clear();
    for (; m_latest_written < m_latest_pending.size() && written < budget &&
           in_statement.size() < k_flush_slice;
         ++m_latest_written, ++written) {
      const auto& point = m_latest_pending[m_latest_written];
      if (!in_statement.insert(point.series_id).second) {
        break;
      }
      pg::append_array_int(ids, point.series_id);
      pg::append_array_double(values, point.value);
      pg::append_array_int(times, point.time_ms);
    }
    ids += '}';
    values += '}';
    times += '}';
    tx.exec_prepared("upsert_latest", ids, values, times);
  }
  return written;
}

void PostgresStore::settle_latest() {
  if (m_latest_written == m_latest_pending.size()) {
    m_latest_pending.clear();
    m_latest_written = 0;
  }
}

Result<void> PostgresStore::flush_latest_now() {
  if (m_series.pending_latest() == 0 && m_latest_pending.empty()) {
    return {};
  }
  // Appended after the ones still waiting, so a series in both gets its newer value last.
  m_series.take_latest(m_latest_pending);
  const auto before = m_latest_written;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    m_latest_written = before; // a reconnection runs this again
    (void)flush_latest(tx, std::numeric_limits<std::size_t>::max());
    return {};
  });
  if (!done) {
    m_latest_written = before; // rolled back: written again next time
    return fail(std::move(done).error().context(
        "writing the latest values of " + std::to_string(m_latest_pending.size()) + " series"));
  }
  settle_latest();
  return {};
}

Result<RollupFlush> PostgresStore::flush_rollups(std::int64_t closed_before_ms) {
  // Latest values matter to readers only through list_agents, which writes them all first;
  // written behind every 5 minutes they only spare a restart the older values.
  constexpr std::int64_t k_latest_every_ms = 300'000;
  const bool everything = closed_before_ms == std::numeric_limits<std::int64_t>::max();
  const std::size_t budget = everything ? std::numeric_limits<std::size_t>::max() : k_flush_rows;
  m_series.take_closed(closed_before_ms, m_rollup_pending);
  if (everything ||
      (m_latest_pending.empty() && (m_latest_taken_ms == std::numeric_limits<std::int64_t>::min() ||
                                    closed_before_ms - m_latest_taken_ms >= k_latest_every_ms))) {
    m_series.take_latest(m_latest_pending); // after any still waiting: the newer last
    m_latest_taken_ms = closed_before_ms;
  }
  const auto latest_before = m_latest_written;
  const auto rollups_before = m_rollups_written;
  RollupFlush flush;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    // Whatever this transaction does not commit is written again (a reconnection, the next call).
    m_latest_written = latest_before;
    m_rollups_written = rollups_before;
    flush.minute_rows = 0;
    flush.hours = 0;
    std::size_t left = budget - flush_latest(tx, budget);
    std::unordered_set<std::pair<std::int64_t, std::int64_t>, PairHash> in_statement;
    while (m_rollups_written < m_rollup_pending.size() && left > 0) {
      std::string ids = "{", buckets = "{", counts = "{", sums = "{", mins = "{", maxs = "{";
      in_statement.clear();
      for (; m_rollups_written < m_rollup_pending.size() && left > 0 &&
             in_statement.size() < k_flush_slice;
           ++m_rollups_written, --left, ++flush.minute_rows) {
        const auto& row = m_rollup_pending[m_rollups_written];
        if (!in_statement.insert({row.series_id, row.bucket_ms}).second) {
          break;
        }
        pg::append_array_int(ids, row.series_id);
        pg::append_array_int(buckets, row.bucket_ms);
        pg::append_array_int(counts, row.count);
        pg::append_array_double(sums, row.sum);
        pg::append_array_double(mins, row.min);
        pg::append_array_double(maxs, row.max);
      }
      for (auto* array : {&ids, &buckets, &counts, &sums, &mins, &maxs}) {
        *array += '}';
      }
      tx.exec_prepared("merge_minutes", ids, buckets, counts, sums, mins, maxs);
    }
    // Whole hours roll up from their minutes once every minute taken has been written.
    if (everything || m_rollups_written < m_rollup_pending.size()) {
      return {};
    }
    const std::int64_t before = bucket_start(closed_before_ms, k_hour_ms);
    std::int64_t next = 0;
    const auto progress = tx.exec("SELECT hours_done_ms FROM rollup_progress");
    if (!progress.empty()) {
      next = progress[0][0].as<std::int64_t>();
    } else {
      const auto first = tx.exec("SELECT MIN(bucket_ms) FROM rollups_minute");
      if (first.empty() || first[0][0].is_null()) {
        return {};
      }
      next = bucket_start(first[0][0].as<std::int64_t>(), k_hour_ms);
    }
    for (; next < before && flush.hours < 24 * 7; next += k_hour_ms, ++flush.hours) {
      tx.exec_params(std::string(k_roll_hour_sql), next);
    }
    tx.exec_params(
        "INSERT INTO rollup_progress (id, hours_done_ms) VALUES (1, $1)"
        " ON CONFLICT (id) DO UPDATE SET hours_done_ms = excluded.hours_done_ms",
        next);
    return {};
  });
  if (!done) {
    m_latest_written = latest_before;
    m_rollups_written = rollups_before;
    return fail(std::move(done).error().context(
        "writing " + std::to_string(m_rollup_pending.size() - rollups_before) +
        " minute roll-ups"));
  }
  settle_latest();
  const std::size_t waiting = m_rollup_pending.size() - m_rollups_written;
  if (waiting == 0) {
    m_rollup_pending.clear();
    m_rollups_written = 0;
  }
  flush.open_buckets = m_series.open_buckets() + waiting;
  flush.dropped = m_series.dropped();
  return flush;
}

Result<std::vector<LatestSample>> PostgresStore::read_samples(const SeriesQuery& query) {
  std::vector<LatestSample> out;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    out.clear();
    SeriesNames names;
    const std::string agent = pg::text(query.agent_id);
    for (const auto& row :
         tx.exec_params("SELECT id, name, labels FROM series WHERE agent_id = $1", agent)) {
      names[row[0].as<std::int64_t>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
    }
    std::vector<PackedSample> unpacked;
    const auto rows = tx.exec_params(
        "SELECT time_ms, packed FROM sample_batches WHERE agent_id = $1 AND time_ms <= $3::bigint"
        " AND time_ms >= $2::bigint - 600000 ORDER BY time_ms, id",
        agent, query.since_ms, query.until_ms);
    for (const auto& row : rows) {
      if (out.size() >= query.limit) {
        break;
      }
      const pqxx::binarystring packed(row[1]);
      unpacked.clear();
      if (auto ok = unpack_samples(packed.str(), row[0].as<std::int64_t>(), unpacked); !ok) {
        return ok;
      }
      append_points(unpacked, names, query, out);
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading samples of agent " + query.agent_id));
  }
  return out;
}

Result<std::vector<SeriesRollup>> PostgresStore::read_rollups(RollupPeriod period,
                                                              const SeriesQuery& query) {
  const std::string table = period == RollupPeriod::minute ? "rollups_minute" : "rollups_hour";
  std::vector<SeriesRollup> out;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    out.clear();
    const std::optional<std::string> labels =
        query.labels ? std::optional<std::string>(pg::text(*query.labels)) : std::nullopt;
    const auto rows = tx.exec_params(
        "SELECT s.name, s.labels, r.bucket_ms, r.count, r.sum, r.min, r.max FROM " + table +
            " r JOIN series s ON s.id = r.series_id WHERE s.agent_id = $1"
            " AND ($2 = '' OR s.name = $2) AND ($3::text IS NULL OR s.labels = $3)"
            " AND r.bucket_ms >= $4::bigint AND r.bucket_ms <= $5::bigint"
            " ORDER BY r.bucket_ms, s.name, s.labels LIMIT $6",
        pg::text(query.agent_id), pg::text(query.name), labels, query.since_ms, query.until_ms,
        static_cast<std::int64_t>(std::min<std::size_t>(query.limit, 1'000'000'000)));
    for (const auto& row : rows) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::int64_t>(),
                     row[3].as<std::int64_t>(), row[4].as<double>(), row[5].as<double>(),
                     row[6].as<double>()});
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("reading roll-ups of agent " + query.agent_id));
  }
  return out;
}

Result<RetentionOutcome> PostgresStore::apply_retention(const RetentionPolicy& policy,
                                                        std::int64_t now_ms) {
  struct Rule {
    std::int64_t keep_ms;
    const char* sql; // $1 cut-off, $2 row limit
  };
  const Rule rules[] = {
      {policy.raw_ms,
       "DELETE FROM sample_batches WHERE id IN (SELECT id FROM sample_batches"
       " WHERE time_ms < $1 ORDER BY time_ms LIMIT $2)"},
      {policy.raw_ms,
       "DELETE FROM received_batches WHERE ctid IN (SELECT ctid FROM"
       " received_batches WHERE received_at_ms < $1 LIMIT $2)"},
      {policy.minute_ms,
       "DELETE FROM rollups_minute WHERE ctid IN (SELECT ctid FROM"
       " rollups_minute WHERE bucket_ms < $1 LIMIT $2)"},
      {policy.hour_ms,
       "DELETE FROM rollups_hour WHERE ctid IN (SELECT ctid FROM"
       " rollups_hour WHERE bucket_ms < $1 LIMIT $2)"},
      {policy.events_ms,
       "DELETE FROM signals WHERE id IN (SELECT id FROM (SELECT id, received_ms"
       " FROM signals ORDER BY id LIMIT $2) t WHERE received_ms < $1)"},
      {policy.events_ms,
       "DELETE FROM log_events WHERE id IN (SELECT id FROM (SELECT id,"
       " received_ms FROM log_events ORDER BY id LIMIT $2) t"
       " WHERE received_ms < $1)"},
      {policy.events_ms,
       "DELETE FROM evidence WHERE id IN (SELECT id FROM (SELECT id, received_ms"
       " FROM evidence ORDER BY id LIMIT $2) t WHERE received_ms < $1)"},
  };
  RetentionOutcome outcome;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    outcome = {};
    const auto limit = static_cast<std::int64_t>(policy.max_rows_per_call);
    for (const auto& rule : rules) {
      if (rule.keep_ms <= 0) {
        continue;
      }
      const auto result = tx.exec_params(rule.sql, now_ms - rule.keep_ms, limit);
      const auto deleted = static_cast<std::size_t>(result.affected_rows());
      outcome.deleted += deleted;
      outcome.more = outcome.more || deleted >= policy.max_rows_per_call;
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("applying retention"));
  }
  return outcome;
}

Result<void> PostgresStore::put_daily_metrics(const DailyHealingMetrics& m) {
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    tx.exec_params(std::string(k_upsert_daily_sql), pg::text(m.day), m.opened, m.resolved,
                   m.auto_recovered, m.escalated, m.false_positives, m.actions, m.actions_succeeded,
                   m.mttd_ms, m.mttr_ms, m.updated_ms);
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("storing the daily healing metrics of " + m.day));
  }
  return {};
}

Result<std::vector<DailyHealingMetrics>> PostgresStore::list_daily_metrics(std::size_t limit) {
  std::vector<DailyHealingMetrics> out;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    out.clear();
    const auto rows = tx.exec_params(
        "SELECT day, opened, resolved, auto_recovered, escalated, false_positives, actions,"
        " actions_succeeded, mttd_ms, mttr_ms, updated_ms FROM daily_healing_metrics"
        " ORDER BY day DESC LIMIT $1",
        static_cast<std::int64_t>(std::min<std::size_t>(limit, 100'000)));
    for (const auto& row : rows) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>(),
                     row[3].as<std::int64_t>(), row[4].as<std::int64_t>(),
                     row[5].as<std::int64_t>(), row[6].as<std::int64_t>(),
                     row[7].as<std::int64_t>(), row[8].as<double>(), row[9].as<double>(),
                     row[10].as<std::int64_t>()});
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("listing the daily healing metrics"));
  }
  return out;
}

} // namespace medic::coordinator::storage
