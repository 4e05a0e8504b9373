// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/sqlite/sqlite_store.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "coordinator/storage/batch_sender.hpp"
#include "coordinator/storage/labels_json.hpp"
#include "migrations/migrations.hpp"

namespace medic::coordinator::storage {

namespace {

// The batch-claim state of one agent (seq_ledger.hpp), read on first sight of it.
constexpr std::string_view k_select_last_seq_sql = "SELECT last_seq FROM agents WHERE id = ?1";
constexpr std::string_view k_select_gaps_sql =
    "SELECT first_seq, last_seq FROM batch_gaps WHERE agent_id = ?1";
constexpr std::string_view k_insert_gap_sql =
    "INSERT INTO batch_gaps (agent_id, first_seq, last_seq, created_ms) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view k_delete_gap_sql =
    "DELETE FROM batch_gaps WHERE agent_id = ?1 AND first_seq = ?2";

constexpr std::string_view k_upsert_hello_sql =
    "INSERT INTO agents (id, host, version, labels, first_seen_ms, last_seen_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
    " ON CONFLICT (id) DO UPDATE SET host = excluded.host, version = excluded.version,"
    " labels = excluded.labels, last_seen_ms = excluded.last_seen_ms";

constexpr std::string_view k_count_batch_sql =
    "INSERT INTO agents (id, first_seen_ms, last_seen_ms, last_seq, first_seq, batches, samples,"
    " dropped_batches, dropped_items)"
    " VALUES (?1, ?4, ?4, ?2, ?2, 1, ?3, ?5, ?6)"
    " ON CONFLICT (id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,"
    " last_seq = MAX(last_seq, excluded.last_seq),"
    " first_seq = CASE WHEN batches = 0 THEN excluded.first_seq"
    " ELSE MIN(first_seq, excluded.first_seq) END, batches = batches + 1,"
    " samples = samples + excluded.samples,"
    " dropped_batches = MAX(dropped_batches, excluded.dropped_batches),"
    " dropped_items = MAX(dropped_items, excluded.dropped_items)";

// From memory, by series id (the series row gives agent, name and labels). ">=" so that of two
// samples with the same time, the later one in arrival order wins.
constexpr std::string_view k_upsert_latest_sql =
    "INSERT INTO latest_samples (agent_id, name, labels, value, time_ms)"
    " SELECT agent_id, name, labels, ?2, ?3 FROM series WHERE id = ?1"
    " ON CONFLICT (agent_id, name, labels) DO UPDATE SET value = excluded.value,"
    " time_ms = excluded.time_ms WHERE excluded.time_ms >= latest_samples.time_ms";

// One statement rather than one per agent: a single consistent read, in the order list_agents
// promises (the primary keys make both orderings index walks).
constexpr std::string_view k_select_agents_sql =
    "SELECT a.id, a.host, a.version, a.labels, a.first_seen_ms, a.last_seen_ms, a.last_seq,"
    " a.batches, a.samples, s.name, s.labels, s.value, s.time_ms, a.dropped_batches,"
    " a.dropped_items"
    " FROM agents a LEFT JOIN latest_samples s ON s.agent_id = a.id"
    " ORDER BY a.id, s.name, s.labels";

AgentRecord read_agent(const sqlite::Statement& row) {
  AgentRecord agent;
  agent.id = row.column_text(0);
  agent.host = row.column_text(1);
  agent.version = row.column_text(2);
  agent.labels_json = row.column_text(3);
  agent.first_seen_ms = row.column_int(4);
  agent.last_seen_ms = row.column_int(5);
  agent.last_seq = static_cast<std::uint64_t>(row.column_int(6));
  agent.batches = static_cast<std::uint64_t>(row.column_int(7));
  agent.samples = static_cast<std::uint64_t>(row.column_int(8));
  return agent;
}

LatestSample read_latest(const sqlite::Statement& row) {
  return LatestSample{row.column_text(9), row.column_text(10), row.column_double(11),
                      row.column_int(12)};
}

} // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path) {
  auto db = sqlite::Database::open(path, sqlite::OpenMode::read_write_create);
  if (!db) {
    return fail(std::move(db).error()); // already names the path
  }
  const std::string where = "opening store " + path.string();
  // A fleet's batches touch rows all over the agent-keyed indexes: a page cache of 64 MiB (not
  // SQLite's 2 MiB) keeps their inner pages in memory, so a group transaction writes each dirty
  // page once at commit instead of spilling it to the WAL half-way and reading it back.
  if (auto cache = db->exec("PRAGMA cache_size=-65536;"); !cache) {
    return fail(std::move(cache).error().context(where));
  }
  if (auto migrated = db->migrate(migrations::sqlite_migrations()); !migrated) {
    return fail(std::move(migrated).error().context(where));
  }
  auto statements = SqliteStore::prepare_statements(*db);
  if (!statements) {
    return fail(std::move(statements).error().context(where));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(*db), std::move(*statements)));
  if (auto started = store->start_checkpointer(); !started) {
    return fail(std::move(started).error().context(where));
  }
  return std::unique_ptr<Store>(std::move(store));
}

SqliteStore::~SqliteStore() {
  if (m_checkpointer) {
    const auto done = m_checkpointer->counters();
    spdlog::info(
        "storage: WAL checkpoints: {} passes of the checkpoint thread ({} busy, {} frames"
        " copied), {} catch-ups and {} backstop checkpoints by the writer",
        done.runs, done.busy, done.frames_copied, done.catch_ups, done.inline_runs);
  }
}

Result<void> SqliteStore::start_checkpointer() {
  // A WAL that starts over keeps its file (writing into blocks it has is cheaper than growing
  // it); one that a burst made larger than 128 MiB is cut back to that size then.
  if (auto limit = m_db.exec("PRAGMA journal_size_limit=134217728;"); !limit) {
    return limit;
  }
  auto checkpointer = sqlite::WalCheckpointer::start(m_db, sqlite::CheckpointSettings{});
  if (!checkpointer) {
    return fail(std::move(checkpointer).error());
  }
  m_checkpointer = std::move(*checkpointer);
  return {};
}

Result<SqliteStore::Statements> SqliteStore::prepare_statements(sqlite::Database& db) {
  auto last_seq = db.prepare(k_select_last_seq_sql);
  auto gaps = db.prepare(k_select_gaps_sql);
  auto insert_gap = db.prepare(k_insert_gap_sql);
  auto delete_gap = db.prepare(k_delete_gap_sql);
  auto hello = db.prepare(k_upsert_hello_sql);
  auto count = db.prepare(k_count_batch_sql);
  auto latest = db.prepare(k_upsert_latest_sql);
  auto select = db.prepare(k_select_agents_sql);
  auto events = prepare_event_statements(db);
  for (auto* prepared :
       {&last_seq, &gaps, &insert_gap, &delete_gap, &hello, &count, &latest, &select}) {
    if (!*prepared) {
      return fail(std::move(*prepared).error());
    }
  }
  if (!events) {
    return fail(std::move(events).error());
  }
  return Statements{std::move(*last_seq),     std::move(*gaps),   std::move(*insert_gap),
                    std::move(*delete_gap),   std::move(*hello),  std::move(*count),
                    std::move(*latest),       std::move(*select), std::move(events->first),
                    std::move(events->second)};
}

Result<void> SqliteStore::record_hello(const protocol::Envelope& envelope,
                                       const protocol::Hello& hello, std::int64_t received_ms) {
  const std::string where = "recording hello from agent " + envelope.agent_id;
  if (auto sender = checked_sender(envelope); !sender) {
    return fail(std::move(sender).error().context(where));
  }
  auto& statement = m_statements.upsert_hello;
  const sqlite::ResetOnExit reset(statement);
  statement.bind(1, envelope.agent_id)
      .bind(2, hello.host)
      .bind(3, hello.agent_version)
      .bind(4, labels_to_json(hello.labels))
      .bind(5, received_ms);
  if (auto done = statement.run(); !done) {
    return fail(std::move(done).error().context(where));
  }
  return {};
}

Result<BatchOutcome> SqliteStore::record_batch(const protocol::Envelope& envelope,
                                               const protocol::Batch& batch,
                                               std::int64_t received_ms) {
  auto outcome = store_batch(envelope, batch, received_ms);
  // The roll-ups see the samples only once their transaction committed.
  if (outcome && *outcome == BatchOutcome::stored) {
    m_series.commit();
  } else {
    m_series.rollback();
    m_seqs.clear(); // what the claim recorded in memory was rolled back on disk
  }
  if (!outcome) {
    return fail(std::move(outcome).error().context(
        "recording batch " + std::to_string(envelope.seq) + " from agent " + envelope.agent_id));
  }
  return outcome;
}

Result<BatchOutcome> SqliteStore::store_batch(const protocol::Envelope& envelope,
                                              const protocol::Batch& batch,
                                              std::int64_t received_ms) {
  auto seq = checked_sender(envelope);
  if (!seq) {
    return fail(std::move(seq).error());
  }
  // Any early return below rolls back, including the claim: a failed batch stays unclaimed so
  // the agent's retry can store it.
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return fail(std::move(tx).error());
  }
  auto outcome = store_batch_body(envelope, *seq, batch, received_ms);
  if (!outcome || *outcome == BatchOutcome::duplicate) {
    return outcome;
  }
  if (auto committed = tx->commit(); !committed) {
    return fail(std::move(committed).error());
  }
  return BatchOutcome::stored;
}

// One transaction for the whole group, no savepoints: a savepoint per batch would copy every
// page a batch touches into SQLite's statement journal first (40 pages a batch with 5,000
// agents, the largest cost measured). Should any batch fail, the group is rolled back and
// stored again batch by batch, each in its own transaction, so only that batch fails.
std::vector<Result<BatchOutcome>> SqliteStore::record_batches(
    std::span<const BatchToStore> batches) {
  if (batches.size() <= 1) {
    return Store::record_batches(batches);
  }
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return Store::record_batches(batches); // one by one, each saying what went wrong
  }
  std::vector<Result<BatchOutcome>> outcomes;
  outcomes.reserve(batches.size());
  for (const auto& one : batches) {
    const auto& envelope = *one.envelope;
    auto seq = checked_sender(envelope);
    if (!seq) { // nothing written: this batch alone fails
      outcomes.push_back(fail(std::move(seq).error().context(
          "recording batch " + std::to_string(envelope.seq) + " from agent " + envelope.agent_id)));
      continue;
    }
    auto outcome = store_batch_body(envelope, *seq, *one.batch, one.received_ms);
    if (!outcome) {
      tx->rollback();
      m_series.rollback();
      m_seqs.clear();
      return Store::record_batches(batches);
    }
    outcomes.push_back(std::move(outcome));
  }
  if (auto committed = tx->commit(); !committed) {
    tx->rollback();
    m_series.rollback();
    m_seqs.clear();
    return Store::record_batches(batches);
  }
  // The roll-ups see the samples only once their transaction committed.
  m_series.commit();
  return outcomes;
}

Result<BatchOutcome> SqliteStore::store_batch_body(const protocol::Envelope& envelope,
                                                   std::int64_t seq_value,
                                                   const protocol::Batch& batch,
                                                   std::int64_t received_ms) {
  const auto* seq = &seq_value; // the body reads as it did inside store_batch
  auto claimed = claim_batch(envelope.agent_id, *seq, received_ms);
  if (!claimed) {
    return fail(std::move(claimed).error());
  }
  if (!*claimed) {
    return BatchOutcome::duplicate;
  }
  const auto sample_count = static_cast<std::int64_t>(batch.samples.size());
  if (auto counted = count_batch(envelope.agent_id, *seq, sample_count, received_ms, batch.dropped);
      !counted) {
    return fail(std::move(counted).error());
  }
  // Latest values are not written per sample: store_samples stages them, and after the commit
  // they wait in memory (newest per series) until flush_latest() writes them in bulk.
  if (auto stored = store_samples(envelope.agent_id, *seq, batch); !stored) {
    return fail(std::move(stored).error());
  }
  if (auto inserted = insert_events(envelope.agent_id, *seq, batch, received_ms); !inserted) {
    return fail(std::move(inserted).error());
  }
  if (auto inserted = insert_actions(envelope.agent_id, *seq, batch, received_ms); !inserted) {
    return fail(std::move(inserted).error());
  }
  return BatchOutcome::stored;
}

Result<void> SqliteStore::load_seqs(std::string_view agent_id) {
  std::int64_t highest = 0;
  {
    auto& statement = m_statements.select_last_seq;
    const sqlite::ResetOnExit reset(statement);
    statement.bind(1, agent_id);
    auto row = statement.step();
    if (!row) {
      return fail(std::move(row).error().context("reading the agent's last seq"));
    }
    if (*row) {
      highest = statement.column_int(0);
    }
  }
  std::vector<SeqGap> gaps;
  auto& statement = m_statements.select_gaps;
  const sqlite::ResetOnExit reset(statement);
  statement.bind(1, agent_id);
  for (;;) {
    auto row = statement.step();
    if (!row) {
      return fail(std::move(row).error().context("reading the agent's seq gaps"));
    }
    if (!*row) {
      break;
    }
    gaps.push_back(SeqGap{statement.column_int(0), statement.column_int(1)});
  }
  m_seqs.load(agent_id, highest, std::move(gaps));
  return {};
}

Result<bool> SqliteStore::claim_batch(std::string_view agent_id, std::int64_t seq,
                                      std::int64_t received_ms) {
  if (!m_seqs.loaded(agent_id)) {
    if (auto loaded = load_seqs(agent_id); !loaded) {
      return fail(std::move(loaded).error().context("claiming sequence number"));
    }
  }
  const SeqClaim claim = m_seqs.claim(agent_id, seq);
  // Deletes first: a gap that shrinks keeps its first seq and is deleted, then inserted.
  for (std::size_t i = 0; i < claim.removed_count; ++i) {
    auto& statement = m_statements.delete_gap;
    const sqlite::ResetOnExit reset(statement);
    statement.bind(1, agent_id).bind(2, claim.removed[i].first);
    if (auto done = statement.run(); !done) {
      return fail(std::move(done).error().context("claiming sequence number"));
    }
  }
  for (std::size_t i = 0; i < claim.added_count; ++i) {
    auto& statement = m_statements.insert_gap;
    const sqlite::ResetOnExit reset(statement);
    statement.bind(1, agent_id)
        .bind(2, claim.added[i].first)
        .bind(3, claim.added[i].last)
        .bind(4, received_ms);
    if (auto done = statement.run(); !done) {
      return fail(std::move(done).error().context("claiming sequence number"));
    }
  }
  return claim.fresh;
}

Result<void> SqliteStore::count_batch(std::string_view agent_id, std::int64_t seq,
                                      std::int64_t sample_count, std::int64_t received_ms,
                                      const protocol::DropCounts& dropped) {
  auto& statement = m_statements.count_batch;
  const sqlite::ResetOnExit reset(statement);
  // Counts beyond int64 are nonsense from a broken agent; clamp rather than wrap negative.
  const auto clamp = [](std::uint64_t v) {
    return static_cast<std::int64_t>(
        std::min<std::uint64_t>(v, std::numeric_limits<std::int64_t>::max()));
  };
  statement.bind(1, agent_id)
      .bind(2, seq)
      .bind(3, sample_count)
      .bind(4, received_ms)
      .bind(5, clamp(dropped.batches))
      .bind(6, clamp(dropped.items));
  if (auto done = statement.run(); !done) {
    return fail(std::move(done).error().context("updating agent"));
  }
  return {};
}

Result<std::vector<AgentRecord>> SqliteStore::list_agents() {
  if (auto flushed = flush_latest_now(); !flushed) {
    return fail(std::move(flushed).error());
  }
  auto& statement = m_statements.select_agents;
  const sqlite::ResetOnExit reset(statement);
  std::vector<AgentRecord> agents;
  for (;;) {
    auto row = statement.step();
    if (!row) {
      return fail(std::move(row).error().context("listing agents"));
    }
    if (!*row) {
      break;
    }
    // Rows come grouped by agent; a new id starts a new record.
    if (agents.empty() || agents.back().id != statement.column_text(0)) {
      agents.push_back(read_agent(statement));
      agents.back().dropped_batches = static_cast<std::uint64_t>(statement.column_int(13));
      agents.back().dropped_items = static_cast<std::uint64_t>(statement.column_int(14));
    }
    if (!statement.column_is_null(9)) {
      agents.back().latest.push_back(read_latest(statement));
    }
  }
  return agents;
}

} // namespace medic::coordinator::storage
