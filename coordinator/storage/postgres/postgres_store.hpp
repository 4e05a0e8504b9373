// SPDX-License-Identifier: Apache-2.0
// The PostgreSQL Store, through libpqxx: schema from the embedded migrations/postgres, statements
// prepared on every (re)connection, one transaction per call. Same semantics as SqliteStore; the
// shared storage test suite runs against both.
//
// Threads: one connection, used by the coordinator's storage worker thread only (as Store
// promises), so nothing in here locks.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "coordinator/storage/series_cache.hpp"
#include "coordinator/storage/store.hpp"
#include "shared/sqlite/database.hpp" // medic::sqlite::Migration: the embedded migrations' type

namespace pqxx {
class connection_base;
class transaction_base;
} // namespace pqxx

namespace medic::migrations {
// The PostgreSQL migrations sorted by version, 1..N without gaps; generated at build time from
// migrations/postgres by cmake/EmbedMigrations.cmake (see coordinator/storage/CMakeLists.txt).
[[nodiscard]] const std::vector<medic::sqlite::Migration>& postgres_migrations();
} // namespace medic::migrations

namespace medic::coordinator::storage {

// Connects to `url` (a libpq URI: postgresql://user:pass@host:port/db?param=value...), applies the
// embedded PostgreSQL migrations in one transaction and prepares every statement. Fails on a
// database whose schema is newer than this binary. Errors name the URL without its password.
[[nodiscard]] Result<std::unique_ptr<Store>> open_postgres_store(const std::string& url);

// Applies `migrations` (a prefix of postgres_migrations(), for tests of upgrades) in one
// transaction; returns the schema version now in place.
[[nodiscard]] Result<int> migrate_postgres(const std::string& url,
                                           const std::vector<medic::sqlite::Migration>& migrations);

// `url` with the password replaced by "***", for messages and logs.
[[nodiscard]] std::string redact_postgres_url(std::string_view url);

class PostgresStore final : public Store {
public:
  ~PostgresStore() override;

  [[nodiscard]] Result<void> record_hello(const protocol::Envelope& envelope,
                                          const protocol::Hello& hello,
                                          std::int64_t received_ms) override;
  [[nodiscard]] Result<BatchOutcome> record_batch(const protocol::Envelope& envelope,
                                                  const protocol::Batch& batch,
                                                  std::int64_t received_ms) override;
  // One transaction for the group and a few statements over arrays, whatever its size
  // (postgres_store_group.cpp); record_batch is a group of one.
  [[nodiscard]] std::vector<Result<BatchOutcome>> record_batches(
      std::span<const BatchToStore> batches) override;
  [[nodiscard]] Result<std::vector<AgentRecord>> list_agents() override;
  // postgres_store_events.cpp
  [[nodiscard]] Result<std::vector<SignalRecord>> recent_signals(const EventQuery& query) override;
  [[nodiscard]] Result<std::vector<LogEventRecord>> recent_log_events(
      const EventQuery& query) override;
  [[nodiscard]] Result<std::vector<ResultRecord>> recent_results(const EventQuery& query) override;
  [[nodiscard]] Result<std::vector<BudgetRecord>> list_budgets(std::string_view agent_id) override;
  [[nodiscard]] Result<std::vector<EvidenceRecord>> recent_evidence(
      const EventQuery& query) override;
  // postgres_store_incidents.cpp: keys
  [[nodiscard]] Result<void> add_key(const AgentKey& key) override;
  [[nodiscard]] Result<std::vector<AgentKey>> revoke_keys(std::string_view agent_or_key,
                                                          std::int64_t now_ms) override;
  [[nodiscard]] Result<std::vector<AgentKey>> list_keys() override;
  // postgres_store_incidents.cpp: incidents, audit, engine state
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

  // postgres_store_samples.cpp. As in SqliteStore, latest values wait in memory (newest per
  // series) after their group committed and are written behind: every 5 minutes by
  // flush_rollups, all of them before list_agents reads them, and at shutdown (INT64_MAX).
  // A flush writes at most k_flush_rows rows (latest values, then minutes) and goes on at the
  // next call, so that the storage worker is never held long.
  static constexpr std::size_t k_flush_rows = 5'000;
  [[nodiscard]] Result<RollupFlush> flush_rollups(std::int64_t closed_before_ms) override;
  [[nodiscard]] Result<std::vector<LatestSample>> read_samples(const SeriesQuery& query) override;
  [[nodiscard]] Result<std::vector<SeriesRollup>> read_rollups(RollupPeriod period,
                                                               const SeriesQuery& query) override;
  [[nodiscard]] Result<RetentionOutcome> apply_retention(const RetentionPolicy& policy,
                                                         std::int64_t now_ms) override;
  [[nodiscard]] Result<void> put_daily_metrics(const DailyHealingMetrics& metrics) override;
  [[nodiscard]] Result<std::vector<DailyHealingMetrics>> list_daily_metrics(
      std::size_t limit) override;

  // postgres_store_silences.cpp: silences (Store's "Silences" block)
  [[nodiscard]] Result<void> add_silence(const SilenceRecord& silence) override;
  [[nodiscard]] Result<std::optional<SilenceRecord>> expire_silence(std::string_view id,
                                                                    std::string_view actor,
                                                                    std::int64_t now_ms) override;
  [[nodiscard]] Result<std::vector<SilenceRecord>> list_silences(bool all, std::int64_t now_ms,
                                                                 std::size_t limit) override;

private:
  friend Result<std::unique_ptr<Store>> open_postgres_store(const std::string& url);
  class Connection; // pqxx::connection plus what was prepared on it (postgres_store.cpp)

  explicit PostgresStore(std::string url);

  // Runs `body` in one transaction and commits it unless it returned an error. A connection
  // found broken is reopened (statements prepared again) and the body run once more; a
  // connection lost during COMMIT is not retried (the outcome is unknown) but reopened by the
  // next call. Database errors become ErrorCode::storage; nothing throws out of it.
  template <class Body>
  [[nodiscard]] Result<void> transact(Body&& body);
  [[nodiscard]] Result<void> transact_erased(Result<void> (*call)(void*, pqxx::transaction_base&),
                                             void* body);
  [[nodiscard]] Result<void> connect();
  [[nodiscard]] bool session_open() const; // connected, and the server has not ended the session

  // postgres_store_group.cpp: a group of batches in a few statements over arrays
  class Rows;          // one statement's rows as array literals
  struct GroupBuffers; // what a group needs, reused
  static void prepare_group_statements(pqxx::connection_base& connection);
  void store_slice(pqxx::transaction_base& tx, std::span<const BatchToStore> batches,
                   std::span<const std::size_t> slice, std::vector<std::size_t>& stored);
  void number_new_series(pqxx::transaction_base& tx, std::span<const BatchToStore> batches,
                         std::span<const std::size_t> slice);
  void stage_batch_samples(const std::string& agent_id, const protocol::Envelope& envelope,
                           const protocol::Batch& batch);
  void add_event_rows(const std::string& agent_id, std::int64_t seq, const protocol::Batch& batch,
                      std::int64_t received_ms);
  void write_budgets(pqxx::transaction_base& tx);
  // postgres_store_events.cpp: reading signals, log events, action results, budgets, evidence
  static void prepare_event_statements(pqxx::connection_base& connection);
  // postgres_store_samples.cpp
  static void prepare_sample_statements(pqxx::connection_base& connection);
  // Writes up to `budget` pending latest values in the caller's transaction; returns how many.
  std::size_t flush_latest(pqxx::transaction_base& tx, std::size_t budget);
  [[nodiscard]] Result<void> flush_latest_now(); // every pending one, in its own transaction
  void settle_latest();

  std::string m_url;                        // with the password: never put into a message
  std::string m_where;                      // "postgresql://user:***@host/db", for messages
  std::unique_ptr<Connection> m_connection; // null while disconnected
  std::unique_ptr<GroupBuffers> m_group;    // created by the first group
  SeriesCache m_series{/*track_latest=*/true};
  // Taken from m_series, written from [..._written] on; cleared once all are written.
  std::vector<SeriesCache::LatestPoint> m_latest_pending;
  std::size_t m_latest_written = 0;
  std::int64_t m_latest_taken_ms = std::numeric_limits<std::int64_t>::min();
  std::vector<RollupRow> m_rollup_pending;
  std::size_t m_rollups_written = 0;
};

template <class Body>
Result<void> PostgresStore::transact(Body&& body) {
  return transact_erased(
      [](void* erased, pqxx::transaction_base& tx) -> Result<void> {
        return (*static_cast<std::remove_reference_t<Body>*>(erased))(tx);
      },
      static_cast<void*>(&body));
}

} // namespace medic::coordinator::storage
