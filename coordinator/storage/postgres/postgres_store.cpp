// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/postgres/postgres_store.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "coordinator/storage/batch_sender.hpp"
#include "coordinator/storage/postgres/postgres_group_buffers.hpp"
#include "coordinator/storage/postgres/postgres_text.hpp"

namespace medic::coordinator::storage {

class PostgresStore::Connection {
public:
  explicit Connection(const std::string& url) : m_pq(url) {}
  pqxx::connection& pq() { return m_pq; }

private:
  pqxx::connection m_pq;
};

namespace {

constexpr const char* k_upsert_hello_sql =
    "INSERT INTO agents (id, host, version, labels, first_seen_ms, last_seen_ms)"
    " VALUES ($1::text, $2::text, $3::text, $4::jsonb, $5::bigint, $5::bigint)"
    " ON CONFLICT (id) DO UPDATE SET host = excluded.host, version = excluded.version,"
    " labels = excluded.labels, last_seen_ms = excluded.last_seen_ms";

constexpr const char* k_select_agents_sql =
    "SELECT a.id, a.host, a.version, a.labels::text, a.first_seen_ms, a.last_seen_ms,"
    " a.last_seq, a.batches, a.samples, s.name, s.labels, s.value, s.time_ms,"
    " a.dropped_batches, a.dropped_items"
    " FROM agents a LEFT JOIN latest_samples s ON s.agent_id = a.id"
    " ORDER BY a.id, s.name, s.labels";

// JSONB prints objects its own way ("{"a": "b"}", shorter keys first); labels_json is compared
// as text, so it is printed back the way labels_to_json wrote it.
std::string normalised_json(const std::string& text) {
  const auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    return text;
  }
  return parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AgentRecord read_agent(const pqxx::row& row) {
  AgentRecord agent;
  agent.id = row[0].as<std::string>();
  agent.host = row[1].as<std::string>();
  agent.version = row[2].as<std::string>();
  agent.labels_json = normalised_json(row[3].as<std::string>());
  agent.first_seen_ms = row[4].as<std::int64_t>();
  agent.last_seen_ms = row[5].as<std::int64_t>();
  agent.last_seq = static_cast<std::uint64_t>(row[6].as<std::int64_t>());
  agent.batches = static_cast<std::uint64_t>(row[7].as<std::int64_t>());
  agent.samples = static_cast<std::uint64_t>(row[8].as<std::int64_t>());
  agent.dropped_batches = static_cast<std::uint64_t>(row[13].as<std::int64_t>());
  agent.dropped_items = static_cast<std::uint64_t>(row[14].as<std::int64_t>());
  return agent;
}

void prepare_statements(pqxx::connection_base& connection) {
  connection.prepare("upsert_hello", k_upsert_hello_sql);
  connection.prepare("select_agents", k_select_agents_sql);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Applies the migrations newer than the recorded version, all in the caller's transaction,
// under an advisory lock so that two coordinators starting at once do not race.
int apply_migrations(pqxx::work& tx, const std::vector<sqlite::Migration>& migrations,
                     const std::string& where) {
  tx.exec(
      "SELECT pg_advisory_xact_lock(hashtext('medic-migrations:' ||"
      " COALESCE(current_schema(), '')))");
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
      " name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)");
  int current = tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0].as<int>();
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  if (current > newest) {
    throw std::domain_error("database " + where + " has schema version " + std::to_string(current) +
                            ", newer than this binary's " + std::to_string(newest) +
                            "; upgrade medic");
  }
  for (const auto& migration : migrations) {
    if (migration.version <= current) {
      continue;
    }
    try {
      tx.exec(std::string(migration.sql));
    } catch (const pqxx::sql_error& error) {
      throw std::domain_error("applying migration " + std::to_string(migration.version) + " (" +
                              std::string(migration.name) + "): " + pg::message_of(error));
    }
    tx.exec_params(
        "INSERT INTO schema_migrations (version, name, applied_at_ms)"
        " VALUES ($1::bigint, $2::text, $3::bigint)",
        migration.version, std::string(migration.name), now_ms());
    current = migration.version;
  }
  return current;
}

} // namespace

Result<int> migrate_postgres(const std::string& url,
                             const std::vector<sqlite::Migration>& migrations) {
  const std::string where = redact_postgres_url(url);
  try {
    pqxx::connection connection(url);
    pqxx::work tx(connection);
    const int version = apply_migrations(tx, migrations, where);
    tx.commit();
    return version;
  } catch (const std::domain_error& error) { // ours, already complete
    return fail(ErrorCode::storage, error.what());
  } catch (const std::exception& error) {
    return fail(ErrorCode::storage, "migrating " + where + ": " + pg::message_of(error));
  }
}

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& url) {
  if (auto migrated = migrate_postgres(url, migrations::postgres_migrations()); !migrated) {
    return fail(std::move(migrated).error());
  }
  std::unique_ptr<PostgresStore> store(new PostgresStore(url));
  if (auto connected = store->connect(); !connected) {
    return fail(std::move(connected).error());
  }
  return std::unique_ptr<Store>(std::move(store));
}

PostgresStore::PostgresStore(std::string url)
    : m_url(std::move(url)), m_where(redact_postgres_url(m_url)) {}

PostgresStore::~PostgresStore() = default;

bool PostgresStore::session_open() const {
  return m_connection && m_connection->pq().is_open();
}

Result<void> PostgresStore::connect() {
  try {
    auto connection = std::make_unique<Connection>(m_url);
    connection->pq().set_client_encoding("UTF8");
    prepare_statements(connection->pq());
    prepare_event_statements(connection->pq());
    prepare_sample_statements(connection->pq());
    prepare_group_statements(connection->pq());
    m_connection = std::move(connection);
    return {};
  } catch (const std::exception& error) {
    return fail(ErrorCode::storage, "connecting to " + m_where + ": " + pg::message_of(error));
  }
}

Result<void> PostgresStore::transact_erased(Result<void> (*call)(void*, pqxx::transaction_base&),
                                            void* body) {
  std::string lost;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!m_connection) {
      if (auto connected = connect(); !connected) {
        return connected;
      }
    }
    try {
      pqxx::work tx(m_connection->pq());
      if (auto done = call(body, tx); !done) {
        return done; // tx's destructor rolls back
      }
      tx.commit();
      return {};
    } catch (const pqxx::in_doubt_error& error) {
      m_connection.reset();
      return fail(ErrorCode::storage,
                  "connection to " + m_where +
                      " lost during COMMIT; the outcome is unknown: " + pg::message_of(error));
    } catch (const pqxx::broken_connection& error) {
      lost = pg::message_of(error);
      m_connection.reset(); // reconnect and run the body once more
    } catch (const std::exception& error) {
      // A server-side error may also have closed the session (the backend was terminated).
      if (!m_connection->pq().is_open()) {
        lost = pg::message_of(error);
        m_connection.reset();
        continue;
      }
      return fail(ErrorCode::storage, pg::message_of(error));
    }
  }
  return fail(ErrorCode::storage, "connection to " + m_where + " lost: " + lost);
}

Result<void> PostgresStore::record_hello(const protocol::Envelope& envelope,
                                         const protocol::Hello& hello, std::int64_t received_ms) {
  const std::string where = "recording hello from agent " + envelope.agent_id;
  if (auto sender = checked_sender(envelope); !sender) {
    return fail(std::move(sender).error().context(where));
  }
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    tx.exec_prepared("upsert_hello", pg::text(envelope.agent_id), pg::text(hello.host),
                     pg::text(hello.agent_version), pg::labels_json(hello.labels), received_ms);
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context(where));
  }
  return {};
}

Result<std::vector<AgentRecord>> PostgresStore::list_agents() {
  if (auto flushed = flush_latest_now(); !flushed) { // latest values wait in memory until now
    return fail(std::move(flushed).error().context("listing agents"));
  }
  std::vector<AgentRecord> agents;
  auto done = transact([&](pqxx::transaction_base& tx) -> Result<void> {
    agents.clear();
    for (const auto& row : tx.exec_prepared("select_agents")) {
      // Rows come grouped by agent; a new id starts a new record.
      if (agents.empty() || agents.back().id != row[0].c_str()) {
        agents.push_back(read_agent(row));
      }
      if (!row[9].is_null()) {
        agents.back().latest.push_back({row[9].as<std::string>(), row[10].as<std::string>(),
                                        row[11].as<double>(), row[12].as<std::int64_t>()});
      }
    }
    return {};
  });
  if (!done) {
    return fail(std::move(done).error().context("listing agents"));
  }
  return agents;
}

} // namespace medic::coordinator::storage
