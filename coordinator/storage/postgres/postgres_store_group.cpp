// SPDX-License-Identifier: Apache-2.0
// PostgresStore::record_batches: a group of batches in a constant number of statements, whatever
// its size (round trips, not server work, bounded what one connection could store: a dozen a
// batch). Each statement runs over arrays (unnest) in the group's one transaction:
//   1. claim: every (agent, seq) in received_batches and, for those that were new, the agents'
//      counters (one upsert per agent, aggregated in SQL); returns which batches were claimed;
//   2. series seen for the first time, numbered (only when there are any);
//   3. one statement per kind of row the claimed batches hold: raw samples (one packed row a
//      batch), signals, log events, action results, budgets (reduced to one per key), evidence.
// Latest values and minute roll-ups stay in memory (SeriesCache) until flush_rollups writes them
// (postgres_store_samples.cpp), as in SqliteStore.
// A group bigger than k_slice_batches runs these per slice, still in one transaction. Should a
// statement fail, the group is rolled back and stored again batch by batch (a group of one), so
// only the failing batch fails; the same path stores a single batch (record_batch).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <pqxx/pqxx>

#include "coordinator/storage/batch_sender.hpp"
#include "coordinator/storage/labels_json.hpp"
#include "coordinator/storage/postgres/postgres_group_buffers.hpp"
#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"
#include "coordinator/storage/sample_pack.hpp"

namespace medic::coordinator::storage {

namespace {

// Batches per set of statements: bounds the arrays.
constexpr std::size_t k_slice_batches = 1'024;

// $1..$6: agent, seq, samples, received_ms, dropped batches, dropped items, one element a batch
// (no (agent, seq) twice). Returns the 1-based position of every batch claimed now. The agents
// upsert sees only what `claimed` returned; each agent's row is touched once (aggregated), with
// what storing its batches one by one in this order would leave: first_seen_ms of its first,
// last_seen_ms of its last.
constexpr const char* k_claim_group_sql =
    "WITH input AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],"
    " $5::bigint[], $6::bigint[]) WITH ORDINALITY"
    " AS i(agent_id, seq, samples, received_ms, dropped_batches, dropped_items, ord)),"
    " claimed AS (INSERT INTO received_batches (agent_id, seq, received_at_ms)"
    " SELECT agent_id, seq, received_ms FROM input ORDER BY ord"
    " ON CONFLICT (agent_id, seq) DO NOTHING RETURNING agent_id, seq),"
    " mine AS (SELECT i.* FROM input i JOIN claimed c"
    " ON c.agent_id = i.agent_id COLLATE \"C\" AND c.seq = i.seq),"
    " counted AS (INSERT INTO agents AS a (id, first_seen_ms, last_seen_ms, last_seq, batches,"
    " samples, dropped_batches, dropped_items)"
    " SELECT agent_id, (array_agg(received_ms ORDER BY ord))[1],"
    " (array_agg(received_ms ORDER BY ord DESC))[1], MAX(seq), COUNT(*), SUM(samples)::bigint,"
    " MAX(dropped_batches), MAX(dropped_items) FROM mine GROUP BY agent_id"
    " ON CONFLICT (id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,"
    " last_seq = GREATEST(a.last_seq, excluded.last_seq), batches = a.batches + excluded.batches,"
    " samples = a.samples + excluded.samples,"
    " dropped_batches = GREATEST(a.dropped_batches, excluded.dropped_batches),"
    " dropped_items = GREATEST(a.dropped_items, excluded.dropped_items))"
    " SELECT ord FROM mine";

// No (agent, name, labels) twice: ON CONFLICT DO UPDATE may not touch a row twice.
constexpr const char* k_number_series_sql =
    "INSERT INTO series (agent_id, name, labels)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
    " ON CONFLICT (agent_id, name, labels) DO UPDATE SET name = excluded.name"
    " RETURNING id, agent_id, name, labels";

// A budget report older than the stored one (a redelivered old batch) does not replace it; the
// group holds at most one row per key (the newest).
constexpr const char* k_upsert_budgets_sql =
    "INSERT INTO heal_budgets (agent_id, target, action, attempts, window_start_ms,"
    " next_allowed_ms, needs_person, updated_ms)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],"
    " $6::bigint[], $7::bigint[], $8::bigint[])"
    " ON CONFLICT (agent_id, target, action) DO UPDATE SET attempts = excluded.attempts,"
    " window_start_ms = excluded.window_start_ms, next_allowed_ms = excluded.next_allowed_ms,"
    " needs_person = excluded.needs_person, updated_ms = excluded.updated_ms"
    " WHERE excluded.updated_ms >= heal_budgets.updated_ms";

struct Column {
  const char* name;
  const char* type;
};

// "INSERT INTO table (a, b) SELECT * FROM unnest($1::type[], $2::type[])": rows keep the
// arrays' order (their serial ids too).
std::string insert_rows_sql(std::string_view table, std::initializer_list<Column> columns) {
  std::string names;
  std::string arrays;
  int number = 0;
  for (const auto& column : columns) {
    if (number++ > 0) {
      names += ", ";
      arrays += ", ";
    }
    names += column.name;
    arrays += "$" + std::to_string(number) + "::" + column.type + "[]";
  }
  return "INSERT INTO " + std::string(table) + " (" + names + ") SELECT * FROM unnest(" + arrays +
         ")";
}

std::int64_t clamped(std::uint64_t value) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

std::string where_batch(const protocol::Envelope& envelope) {
  return "recording batch " + std::to_string(envelope.seq) + " from agent " + envelope.agent_id;
}

} // namespace

void PostgresStore::prepare_group_statements(pqxx::connection_base& connection) {
  connection.prepare("claim_group", k_claim_group_sql);
  connection.prepare("number_series", k_number_series_sql);
  connection.prepare("upsert_budgets", k_upsert_budgets_sql);
  connection.prepare("insert_sample_batches",
                     insert_rows_sql("sample_batches", {{"agent_id", "text"},
                                                        {"seq", "bigint"},
                                                        {"time_ms", "bigint"},
                                                        {"count", "integer"},
                                                        {"packed", "bytea"}}));
  connection.prepare("insert_signals", insert_rows_sql("signals", {{"agent_id", "text"},
                                                                   {"batch_seq", "bigint"},
                                                                   {"rule", "text"},
                                                                   {"state", "text"},
                                                                   {"severity", "text"},
                                                                   {"category", "text"},
                                                                   {"fingerprint", "text"},
                                                                   {"value", "float8"},
                                                                   {"time_ms", "bigint"},
                                                                   {"labels", "text"},
                                                                   {"message", "text"},
                                                                   {"received_ms", "bigint"}}));
  connection.prepare("insert_log_events",
                     insert_rows_sql("log_events", {{"agent_id", "text"},
                                                    {"batch_seq", "bigint"},
                                                    {"kind", "text"},
                                                    {"source", "text"},
                                                    {"path", "text"},
                                                    {"time_ms", "bigint"},
                                                    {"file_offset", "bigint"},
                                                    {"text", "text"},
                                                    {"rule", "text"},
                                                    {"template_id", "bigint"},
                                                    {"gap_bytes", "bigint"},
                                                    {"labels", "text"},
                                                    {"received_ms", "bigint"}}));
  connection.prepare(
      "insert_results",
      insert_rows_sql(
          "recovery_executions",
          {{"agent_id", "text"},      {"batch_seq", "bigint"},     {"command_id", "text"},
           {"origin", "text"},        {"action", "text"},          {"rule", "text"},
           {"target", "text"},        {"params", "text"},          {"status", "text"},
           {"reason", "text"},        {"exit_code", "bigint"},     {"started_ms", "bigint"},
           {"finished_ms", "bigint"}, {"output", "text"},          {"post_check", "text"},
           {"rollback", "text"},      {"rollback_status", "text"}, {"plan", "text"},
           {"audit_seq", "bigint"},   {"received_ms", "bigint"}}));
  connection.prepare("insert_evidence", insert_rows_sql("evidence", {{"agent_id", "text"},
                                                                     {"batch_seq", "bigint"},
                                                                     {"fingerprint", "text"},
                                                                     {"rule", "text"},
                                                                     {"action", "text"},
                                                                     {"time_ms", "bigint"},
                                                                     {"status", "text"},
                                                                     {"output", "text"},
                                                                     {"received_ms", "bigint"}}));
}

Result<BatchOutcome> PostgresStore::record_batch(const protocol::Envelope& envelope,
                                                 const protocol::Batch& batch,
                                                 std::int64_t received_ms) {
  const BatchToStore one{&envelope, &batch, received_ms};
  auto outcomes = record_batches(std::span<const BatchToStore>(&one, 1));
  return std::move(outcomes.front());
}

std::vector<Result<BatchOutcome>> PostgresStore::record_batches(
    std::span<const BatchToStore> batches) {
  std::vector<Result<BatchOutcome>> outcomes(batches.size(), BatchOutcome::duplicate);
  // What no backend can store fails alone, before the database; a second copy of a batch in the
  // same group is a duplicate of the first (whatever happens to the first, stored or not, this
  // copy shares it: see the fallback below).
  std::vector<std::size_t> valid;
  std::vector<std::size_t> first_copies; // what the group writes
  valid.reserve(batches.size());
  first_copies.reserve(batches.size());
  // Views into the envelopes, which outlive this call: no key built per batch.
  struct SenderHash {
    std::size_t operator()(const std::pair<std::string_view, std::int64_t>& key) const noexcept {
      return std::hash<std::string_view>{}(key.first) ^
             (std::hash<std::int64_t>{}(key.second) * 0x9e3779b97f4a7c15ULL);
    }
  };
  std::unordered_set<std::pair<std::string_view, std::int64_t>, SenderHash> seen;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const auto& envelope = *batches[i].envelope;
    auto seq = checked_sender(envelope);
    if (!seq) {
      outcomes[i] = fail(std::move(seq).error().context(where_batch(envelope)));
      continue;
    }
    valid.push_back(i);
    if (batches.size() > 1 && !seen.emplace(envelope.agent_id, *seq).second) {
      continue; // BatchOutcome::duplicate, unless the group fails (below)
    }
    first_copies.push_back(i);
  }
  if (first_copies.empty()) {
    return outcomes;
  }
  if (!m_group) {
    m_group = std::make_unique<GroupBuffers>();
  }
  std::vector<std::size_t> stored;
  bool statement_failed = false;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    m_series.rollback(); // whatever a failed earlier attempt staged
    stored.clear();
    statement_failed = false;
    try {
      for (std::size_t at = 0; at < first_copies.size(); at += k_slice_batches) {
        const auto slice = std::span<const std::size_t>(first_copies)
                               .subspan(at, std::min(k_slice_batches, first_copies.size() - at));
        store_slice(tx, batches, slice, stored);
      }
    } catch (const pqxx::broken_connection&) {
      throw; // transact reconnects and runs the group again
    } catch (const pqxx::in_doubt_error&) {
      throw;
    } catch (const std::exception& error) {
      if (!session_open()) {
        throw; // the session is gone: as above
      }
      statement_failed = true;
      return fail(ErrorCode::storage, pg::message_of(error)); // rolls the group back
    }
    return {};
  });
  if (done) {
    m_series.commit(); // the roll-ups see the samples only once the group committed
    for (const std::size_t i : stored) {
      outcomes[i] = BatchOutcome::stored;
    }
    return outcomes;
  }
  m_series.rollback();
  if (statement_failed && valid.size() > 1) {
    // Which batch failed is not known: each again on its own, so that only that one fails.
    for (const std::size_t i : valid) {
      outcomes[i] = std::move(record_batches(batches.subspan(i, 1)).front());
    }
    return outcomes;
  }
  for (const std::size_t i : valid) {
    const auto& envelope = *batches[i].envelope;
    if (valid.size() == 1) {
      outcomes[i] = fail(done.error().context(where_batch(envelope)));
    } else {
      outcomes[i] =
          fail(Error(ErrorCode::storage, "storing a group of " + std::to_string(batches.size()) +
                                             " batches: " + done.error().message())
                   .context(where_batch(envelope)));
    }
  }
  return outcomes;
}

// In the group's transaction; throws pqxx's exceptions (record_batches turns them into errors).
void PostgresStore::store_slice(pqxx::transaction_base& tx, std::span<const BatchToStore> batches,
                                std::span<const std::size_t> slice,
                                std::vector<std::size_t>& stored) {
  auto& g = *m_group;
  g.clear();
  // 1. Claims and agents' counters.
  g.agents.resize(slice.size());
  for (std::size_t k = 0; k < slice.size(); ++k) {
    const auto& one = batches[slice[k]];
    g.agents[k] = pg::text(one.envelope->agent_id);
    g.claims.text(g.agents[k])
        .integer(static_cast<std::int64_t>(one.envelope->seq))
        .integer(static_cast<std::int64_t>(one.batch->samples.size()))
        .integer(one.received_ms)
        .integer(clamped(one.batch->dropped.batches))
        .integer(clamped(one.batch->dropped.items))
        .end_row();
  }
  g.claimed.clear();
  for (const auto& row : g.claims.exec(tx, "claim_group")) {
    g.claimed.push_back(static_cast<std::size_t>(row[0].as<std::int64_t>() - 1));
  }
  if (g.claimed.empty()) {
    return;
  }
  std::sort(g.claimed.begin(), g.claimed.end()); // group order
  number_new_series(tx, batches, slice);
  // 3. Every row the claimed batches hold, one statement per table.
  for (const std::size_t k : g.claimed) {
    const auto& one = batches[slice[k]];
    stage_batch_samples(g.agents[k], *one.envelope, *one.batch);
    add_event_rows(g.agents[k], static_cast<std::int64_t>(one.envelope->seq), *one.batch,
                   one.received_ms);
    stored.push_back(slice[k]);
  }
  g.raw.exec(tx, "insert_sample_batches");
  g.signals.exec(tx, "insert_signals");
  g.logs.exec(tx, "insert_log_events");
  g.results.exec(tx, "insert_results");
  write_budgets(tx);
  g.evidence.exec(tx, "insert_evidence");
}

// 2. The series the claimed batches bring for the first time, numbered in one statement.
void PostgresStore::number_new_series(pqxx::transaction_base& tx,
                                      std::span<const BatchToStore> batches,
                                      std::span<const std::size_t> slice) {
  auto& g = *m_group;
  g.numbered.clear();
  for (const std::size_t k : g.claimed) {
    const auto& one = batches[slice[k]];
    const auto agent = m_series.agent(g.agents[k]);
    const auto& samples = one.batch->samples;
    for (std::size_t position = 0; position < samples.size(); ++position) {
      const auto& sample = samples[position];
      if (m_series.at_position(agent, position, sample)) {
        continue;
      }
      const std::string name = pg::text(sample.name);
      const std::string labels = pg::text(canonical_labels(sample.labels));
      SeriesCache::make_key(g.key, g.agents[k], name, labels);
      if (m_series.find(g.key) || g.numbered.contains(g.key)) {
        continue;
      }
      g.numbered.emplace(g.key, 0);
      g.new_series.text(g.agents[k]).text(name).text(labels).end_row();
    }
  }
  for (const auto& row : g.new_series.exec(tx, "number_series")) {
    SeriesCache::make_key(g.key, row[1].c_str(), row[2].c_str(), row[3].c_str());
    const auto found = g.numbered.find(g.key);
    if (found == g.numbered.end()) {
      throw std::runtime_error("the database numbered a series nobody asked for: " +
                               row[2].as<std::string>());
    }
    found->second = row[0].as<std::int64_t>();
  }
}

// Stages one claimed batch's samples in the series cache (numbered already: the cache keeps their
// roll-ups and latest values once the group committed) and adds its raw row.
void PostgresStore::stage_batch_samples(const std::string& agent_id,
                                        const protocol::Envelope& envelope,
                                        const protocol::Batch& batch) {
  auto& g = *m_group;
  const auto& samples = batch.samples;
  if (samples.empty()) {
    return;
  }
  const std::size_t first = m_series.mark().staged; // this batch's samples start here
  const auto agent = m_series.agent(agent_id);
  std::int64_t base_ms = std::numeric_limits<std::int64_t>::max();
  const auto describe = [](const protocol::Sample& sample) {
    return std::pair<std::string, std::string>(pg::text(sample.name),
                                               pg::text(canonical_labels(sample.labels)));
  };
  const auto number = [&](const std::string& name,
                          const std::string& labels) -> Result<std::int64_t> {
    SeriesCache::make_key(g.key, agent_id, name, labels);
    const auto found = g.numbered.find(g.key);
    if (found == g.numbered.end() || found->second == 0) {
      return fail(ErrorCode::storage, "series " + name + " {" + labels + "} was not numbered");
    }
    return found->second;
  };
  for (std::size_t position = 0; position < samples.size(); ++position) {
    const auto& sample = samples[position];
    if (auto staged = m_series.stage_sample(agent, agent_id, position, sample, describe, number);
        !staged) {
      throw std::runtime_error(staged.error().message());
    }
    base_ms = std::min(base_ms, sample.time_ms);
  }
  pack_samples(g.pack, m_series.staged(first), base_ms);
  g.raw.text(agent_id)
      .integer(static_cast<std::int64_t>(envelope.seq))
      .integer(base_ms)
      .integer(static_cast<std::int64_t>(samples.size()))
      .bytes(g.pack)
      .end_row();
}

void PostgresStore::add_event_rows(const std::string& agent_id, std::int64_t seq,
                                   const protocol::Batch& batch, std::int64_t received_ms) {
  using pg::text;
  auto& g = *m_group;
  for (const auto& s : batch.signals) {
    g.signals.text(agent_id)
        .integer(seq)
        .text(text(s.rule))
        .text(to_string(s.state))
        .text(to_string(s.severity))
        .text(to_string(s.category))
        .text(text(s.fingerprint))
        .real(s.value)
        .integer(s.time_ms)
        .text(labels_to_json(s.labels))
        .text(text(s.message))
        .integer(received_ms)
        .end_row();
  }
  for (const auto& e : batch.logs) {
    g.logs.text(agent_id)
        .integer(seq)
        .text(e.kind == protocol::LogEventKind::gap ? "gap" : "line")
        .text(text(e.source))
        .text(text(e.path))
        .integer(e.time_ms)
        .integer(clamped(e.offset))
        .text(text(e.text))
        .text(text(e.rule));
    if (e.template_id) {
      g.logs.integer(static_cast<std::int64_t>(*e.template_id));
    } else {
      g.logs.null();
    }
    g.logs.integer(clamped(e.gap_bytes)).text(labels_to_json(e.labels)).integer(received_ms);
    g.logs.end_row();
  }
  for (const auto& r : batch.results) {
    g.results.text(agent_id)
        .integer(seq)
        .text(text(r.command_id))
        .text(text(r.origin))
        .text(text(r.action))
        .text(text(r.rule))
        .text(text(r.target))
        .text(labels_to_json(r.params))
        .text(to_string(r.status))
        .text(text(r.reason))
        .integer(r.exit_code)
        .integer(r.started_ms)
        .integer(r.finished_ms)
        .text(text(r.output))
        .text(text(r.post_check))
        .text(text(r.rollback))
        .text(text(r.rollback_status))
        .text(text(r.plan))
        .integer(clamped(r.audit_seq))
        .integer(received_ms)
        .end_row();
  }
  for (const auto& b : batch.budgets) {
    g.budgets_pending.push_back({&agent_id, &b, received_ms});
  }
  for (const auto& e : batch.evidence) {
    g.evidence.text(agent_id)
        .integer(seq)
        .text(text(e.fingerprint))
        .text(text(e.rule))
        .text(text(e.action))
        .integer(e.time_ms)
        .text(to_string(e.status))
        .text(text(e.output))
        .integer(received_ms)
        .end_row();
  }
}

// One row per (agent, target, action): the newest report (the later one of equal times), which
// is what upserting them one by one in arrival order would leave.
void PostgresStore::write_budgets(pqxx::transaction_base& tx) {
  using pg::text;
  auto& g = *m_group;
  std::unordered_map<std::string, std::size_t> newest;
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < g.budgets_pending.size(); ++i) {
    const auto& pending = g.budgets_pending[i];
    SeriesCache::make_key(g.key, *pending.agent, text(pending.budget->target),
                          text(pending.budget->action));
    const auto [it, added] = newest.try_emplace(g.key, kept.size());
    if (added) {
      kept.push_back(i);
    } else if (pending.received_ms >= g.budgets_pending[kept[it->second]].received_ms) {
      kept[it->second] = i;
    }
  }
  for (const std::size_t i : kept) {
    const auto& pending = g.budgets_pending[i];
    const auto& b = *pending.budget;
    g.budgets.text(*pending.agent)
        .text(text(b.target))
        .text(text(b.action))
        .integer(clamped(b.attempts))
        .integer(b.window_start_ms)
        .integer(b.next_allowed_ms)
        .integer(b.needs_person ? 1 : 0)
        .integer(pending.received_ms)
        .end_row();
  }
  g.budgets_pending.clear();
  g.budgets.exec(tx, "upsert_budgets");
}

} // namespace medic::coordinator::storage
