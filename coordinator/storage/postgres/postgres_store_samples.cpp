// SPDX-License-Identifier: Apache-2.0
// PostgresStore: raw samples (one packed row per batch), minute and hour roll-ups, retention and
// the daily healing figures. The same SQL as SqliteStore where the dialects agree.
#include <algorithm>
#include <limits>

#include <pqxx/pqxx>

#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"

namespace medic::coordinator::storage {

namespace {

constexpr std::string_view k_upsert_series_sql =
    "INSERT INTO series (agent_id, name, labels) VALUES ($1, $2, $3)"
    " ON CONFLICT (agent_id, name, labels) DO UPDATE SET name = excluded.name RETURNING id";

constexpr std::string_view k_insert_sample_batch_sql =
    "INSERT INTO sample_batches (agent_id, seq, time_ms, count, packed)"
    " VALUES ($1, $2, $3, $4, $5)";

constexpr std::string_view k_merge_minute_sql =
    "INSERT INTO rollups_minute AS r (series_id, bucket_ms, count, sum, min, max)"
    " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::float8[],"
    " $5::float8[], $6::float8[])"
    " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET count = r.count + excluded.count,"
    " sum = r.sum + excluded.sum, min = LEAST(r.min, excluded.min),"
    " max = GREATEST(r.max, excluded.max)";

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
  connection.prepare("upsert_series", std::string(k_upsert_series_sql));
  connection.prepare("insert_sample_batch", std::string(k_insert_sample_batch_sql));
  connection.prepare("merge_minutes", std::string(k_merge_minute_sql));
}

// In the batch's transaction; throws pqxx's exceptions like store_batch.
void PostgresStore::store_samples(pqxx::transaction_base& tx, const std::string& agent_id,
                                  std::int64_t seq, const protocol::Batch& batch) {
  if (batch.samples.empty()) {
    return;
  }
  const std::size_t first = m_series.mark().staged; // this batch's samples start here
  const auto agent = m_series.agent(agent_id);
  std::int64_t base_ms = std::numeric_limits<std::int64_t>::max();
  // PostgreSQL refuses NUL and invalid UTF-8: names and labels are stored as pg::text.
  const auto describe = [](const protocol::Sample& sample) {
    return std::pair<std::string, std::string>(pg::text(sample.name),
                                               pg::text(canonical_labels(sample.labels)));
  };
  // Throws pqxx's exceptions like the rest of the batch's transaction.
  const auto number = [&](const std::string& name,
                          const std::string& labels) -> Result<std::int64_t> {
    return tx.exec_prepared1("upsert_series", agent_id, name, labels)[0].as<std::int64_t>();
  };
  for (std::size_t position = 0; position < batch.samples.size(); ++position) {
    const auto& sample = batch.samples[position];
    (void)m_series.stage_sample(agent, agent_id, position, sample, describe, number);
    base_ms = std::min(base_ms, sample.time_ms);
  }
  pack_samples(m_pack_scratch, m_series.staged(first), base_ms);
  const pqxx::binarystring packed(m_pack_scratch.data(), m_pack_scratch.size());
  tx.exec_prepared("insert_sample_batch", agent_id, seq, base_ms,
                   static_cast<std::int64_t>(batch.samples.size()), packed);
}

Result<RollupFlush> PostgresStore::flush_rollups(std::int64_t closed_before_ms) {
  RollupFlush flush;
  m_rollup_scratch.clear();
  m_series.take_closed(closed_before_ms, m_rollup_scratch);
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    flush.minute_rows = 0;
    flush.hours = 0;
    // In slices, each one statement over arrays.
    constexpr std::size_t k_slice = 5'000;
    for (std::size_t at = 0; at < m_rollup_scratch.size(); at += k_slice) {
      std::string ids = "{", buckets = "{", counts = "{", sums = "{", mins = "{", maxs = "{";
      const std::size_t end = std::min(m_rollup_scratch.size(), at + k_slice);
      for (std::size_t i = at; i < end; ++i) {
        const auto& row = m_rollup_scratch[i];
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
      flush.minute_rows += end - at;
    }
    if (closed_before_ms == std::numeric_limits<std::int64_t>::max()) {
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
    return fail(std::move(done).error().context(
        "writing " + std::to_string(m_rollup_scratch.size()) + " minute roll-ups"));
  }
  flush.open_buckets = m_series.open_buckets();
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
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                     row[2].as<std::int64_t>(), row[3].as<std::int64_t>(), row[4].as<double>(),
                     row[5].as<double>(), row[6].as<double>()});
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
      {policy.raw_ms, "DELETE FROM sample_batches WHERE id IN (SELECT id FROM sample_batches"
                      " WHERE time_ms < $1 ORDER BY time_ms LIMIT $2)"},
      {policy.raw_ms, "DELETE FROM received_batches WHERE ctid IN (SELECT ctid FROM"
                      " received_batches WHERE received_at_ms < $1 LIMIT $2)"},
      {policy.minute_ms, "DELETE FROM rollups_minute WHERE ctid IN (SELECT ctid FROM"
                         " rollups_minute WHERE bucket_ms < $1 LIMIT $2)"},
      {policy.hour_ms, "DELETE FROM rollups_hour WHERE ctid IN (SELECT ctid FROM"
                       " rollups_hour WHERE bucket_ms < $1 LIMIT $2)"},
      {policy.events_ms, "DELETE FROM signals WHERE id IN (SELECT id FROM (SELECT id, received_ms"
                         " FROM signals ORDER BY id LIMIT $2) t WHERE received_ms < $1)"},
      {policy.events_ms, "DELETE FROM log_events WHERE id IN (SELECT id FROM (SELECT id,"
                         " received_ms FROM log_events ORDER BY id LIMIT $2) t"
                         " WHERE received_ms < $1)"},
      {policy.events_ms, "DELETE FROM evidence WHERE id IN (SELECT id FROM (SELECT id, received_ms"
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
                   m.auto_recovered, m.escalated, m.false_positives, m.actions,
                   m.actions_succeeded, m.mttd_ms, m.mttr_ms, m.updated_ms);
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
      out.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>(),
                     row[2].as<std::int64_t>(), row[3].as<std::int64_t>(),
                     row[4].as<std::int64_t>(), row[5].as<std::int64_t>(),
                     row[6].as<std::int64_t>(), row[7].as<std::int64_t>(), row[8].as<double>(),
                     row[9].as<double>(), row[10].as<std::int64_t>()});
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("listing the daily healing metrics"));
  }
  return out;
}

} // namespace medic::coordinator::storage
