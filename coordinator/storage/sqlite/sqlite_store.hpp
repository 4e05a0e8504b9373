// SPDX-License-Identifier: Apache-2.0
// The embedded Store: one SQLite file in WAL mode, schema from the embedded migrations, every
// statement prepared once at open and reused. One connection, used by one worker thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/storage/series_cache.hpp"
#include "coordinator/storage/sqlite/seq_ledger.hpp"
#include "coordinator/storage/store.hpp"
#include "shared/sqlite/database.hpp"
#include "shared/sqlite/wal_checkpointer.hpp"

namespace medic::coordinator::storage {

// Opens (creating it and its directory when missing) the database at `path`, applies the
// embedded SQLite migrations and prepares every statement. Fails on a database whose schema is
// newer than this binary. Errors name the path.
[[nodiscard]] Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path);

class SqliteStore final : public Store {
public:
  // Rows a flush_rollups call writes at most, latest values and minute roll-ups together (about
  // 25 ms here, while the batches wait); INT64_MAX (shutdown) writes everything. With
  // StorageHousekeeping's four flushes a second, 20,000 rows a second: a fleet of 500,000
  // series needs about 8,500 minute rows a second and 1,700 latest values.
  static constexpr std::size_t k_flush_rows = 5'000;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  // Logs what the WAL checkpoint thread did.
  ~SqliteStore() override;

  [[nodiscard]] Result<void> record_hello(const protocol::Envelope& envelope,
                                          const protocol::Hello& hello,
                                          std::int64_t received_ms) override;
  [[nodiscard]] Result<BatchOutcome> record_batch(const protocol::Envelope& envelope,
                                                  const protocol::Batch& batch,
                                                  std::int64_t received_ms) override;
  // One transaction for the group; when it fails, each batch again in a transaction of its own.
  [[nodiscard]] std::vector<Result<BatchOutcome>> record_batches(
      std::span<const BatchToStore> batches) override;
  [[nodiscard]] Result<std::vector<AgentRecord>> list_agents() override;
  [[nodiscard]] Result<std::vector<SignalRecord>> recent_signals(const EventQuery& query) override;
  [[nodiscard]] Result<std::vector<LogEventRecord>> recent_log_events(
      const EventQuery& query) override;
  [[nodiscard]] Result<std::vector<ResultRecord>> recent_results(const EventQuery& query) override;
  [[nodiscard]] Result<std::vector<BudgetRecord>> list_budgets(std::string_view agent_id) override;
  [[nodiscard]] Result<std::vector<EvidenceRecord>> recent_evidence(
      const EventQuery& query) override;
  [[nodiscard]] Result<void> add_key(const AgentKey& key) override;
  [[nodiscard]] Result<std::vector<AgentKey>> revoke_keys(std::string_view agent_or_key,
                                                          std::int64_t now_ms) override;
  [[nodiscard]] Result<std::vector<AgentKey>> list_keys() override;
  // sqlite_store_incidents.cpp
  [[nodiscard]] Result<void> save_incidents(std::span<const IncidentRecord> incidents,
                                            std::span<const AuditEntry> audit) override;
  [[nodiscard]] Result<std::vector<IncidentRecord>> list_incidents(
      const IncidentQuery& query) override;
  [[nodiscard]] Result<std::optional<IncidentRecord>> get_incident(
      correlate::IncidentId id) override;
  [[nodiscard]] Result<correlate::IncidentId> max_incident_id() override;
  [[nodiscard]] Result<std::vector<AuditEntry>> incident_audit(correlate::IncidentId id,
                                                               std::size_t limit) override;
  [[nodiscard]] Result<void> put_engine_state(std::string_view name, std::string_view document,
                                              std::int64_t now_ms) override;
  [[nodiscard]] Result<std::optional<std::string>> get_engine_state(std::string_view name) override;

  // sqlite_store_samples.cpp
  [[nodiscard]] Result<RollupFlush> flush_rollups(std::int64_t closed_before_ms) override;
  [[nodiscard]] Result<std::vector<LatestSample>> read_samples(const SeriesQuery& query) override;
  [[nodiscard]] Result<std::vector<SeriesRollup>> read_rollups(RollupPeriod period,
                                                               const SeriesQuery& query) override;
  [[nodiscard]] Result<RetentionOutcome> apply_retention(const RetentionPolicy& policy,
                                                         std::int64_t now_ms) override;
  [[nodiscard]] Result<void> put_daily_metrics(const DailyHealingMetrics& metrics) override;
  [[nodiscard]] Result<std::vector<DailyHealingMetrics>> list_daily_metrics(
      std::size_t limit) override;

  // sqlite_store_silences.cpp: silences (Store's "Silences" block)
  [[nodiscard]] Result<void> add_silence(const SilenceRecord& silence) override;
  [[nodiscard]] Result<std::optional<SilenceRecord>> expire_silence(std::string_view id,
                                                                    std::string_view actor,
                                                                    std::int64_t now_ms) override;
  [[nodiscard]] Result<std::vector<SilenceRecord>> list_silences(bool all, std::int64_t now_ms,
                                                                 std::size_t limit) override;

private:
  friend Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path);

  struct Statements {
    sqlite::Statement select_last_seq;
    sqlite::Statement select_gaps;
    sqlite::Statement insert_gap;
    sqlite::Statement delete_gap;
    sqlite::Statement upsert_hello;
    sqlite::Statement count_batch;
    sqlite::Statement upsert_latest;
    sqlite::Statement select_agents;
    sqlite::Statement insert_signal;
    sqlite::Statement insert_log_event;
  };

  SqliteStore(sqlite::Database db, Statements statements)
      : m_db(std::move(db)), m_statements(std::move(statements)) {}
  // Moves WAL checkpoints off the storage thread (wal_checkpointer.hpp).
  [[nodiscard]] Result<void> start_checkpointer();

  [[nodiscard]] static Result<Statements> prepare_statements(sqlite::Database& db);
  [[nodiscard]] Result<BatchOutcome> store_batch(const protocol::Envelope& envelope,
                                                 const protocol::Batch& batch,
                                                 std::int64_t received_ms);
  // Everything a batch stores, inside the caller's transaction.
  [[nodiscard]] Result<BatchOutcome> store_batch_body(const protocol::Envelope& envelope,
                                                      std::int64_t seq,
                                                      const protocol::Batch& batch,
                                                      std::int64_t received_ms);
  // Reads an agent's highest stored seq and its gaps into m_seqs.
  [[nodiscard]] Result<void> load_seqs(std::string_view agent_id);
  // True when (agent, seq) is not stored yet; records it (in m_seqs and batch_gaps) as stored.
  [[nodiscard]] Result<bool> claim_batch(std::string_view agent_id, std::int64_t seq,
                                         std::int64_t received_ms);
  [[nodiscard]] Result<void> count_batch(std::string_view agent_id, std::int64_t seq,
                                         std::int64_t sample_count, std::int64_t received_ms,
                                         const protocol::DropCounts& dropped);
  // Writes the newest values waiting in m_series to latest_samples, in the caller's transaction:
  // at most `budget` rows (the rest wait in m_latest_pending for the next call). flush_latest_now
  // writes them all, in a transaction of its own.
  [[nodiscard]] Result<std::size_t> flush_latest(std::size_t budget);
  [[nodiscard]] Result<void> flush_latest_now();
  void settle_latest(); // after a commit: forgets the pending values once all are written
  // sqlite_store_events.cpp
  [[nodiscard]] static Result<std::pair<sqlite::Statement, sqlite::Statement>>
  prepare_event_statements(sqlite::Database& db);
  [[nodiscard]] Result<void> insert_events(std::string_view agent_id, std::int64_t seq,
                                           const protocol::Batch& batch, std::int64_t received_ms);

  // sqlite_store_actions.cpp: results, budgets and evidence (rare: prepared when present)
  [[nodiscard]] Result<void> insert_actions(std::string_view agent_id, std::int64_t seq,
                                            const protocol::Batch& batch, std::int64_t received_ms);
  // sqlite_store_samples.cpp
  struct SampleStatements {
    sqlite::Statement upsert_series;
    sqlite::Statement insert_batch;
  };
  [[nodiscard]] Result<void> store_samples(std::string_view agent_id, std::int64_t seq,
                                           const protocol::Batch& batch);
  [[nodiscard]] Result<std::size_t> roll_hours(std::int64_t hours_before_ms);

  // Declared before the statements so that they are finalized before the connection closes.
  sqlite::Database m_db;
  Statements m_statements;
  std::unique_ptr<SampleStatements> m_sample_statements; // prepared on first use
  SeriesCache m_series{true};                            // keeps latest values until flush_latest()
  SeqLedger m_seqs; // which seqs are stored, by agent; cleared whenever a write rolls back
  // Taken out of m_series, not yet written: flushes write a bounded number of rows each so the
  // batches queued behind them never wait long (a fleet of 10,000 agents has 500,000 series).
  std::vector<SeriesCache::LatestPoint> m_latest_pending;
  std::size_t m_latest_written = 0; // of m_latest_pending
  std::int64_t m_latest_taken_ms = std::numeric_limits<std::int64_t>::min();
  std::vector<RollupRow> m_rollup_pending;
  std::size_t m_rollups_written = 0; // of m_rollup_pending
  std::string m_pack_scratch;
  // After m_db: stopped (and the writer unhooked) before the connection closes.
  std::unique_ptr<sqlite::WalCheckpointer> m_checkpointer;
};

} // namespace medic::coordinator::storage
