// SPDX-License-Identifier: Apache-2.0
// The coordinator's storage interface: what ingest records and what the admin side reads back.
// Backends (sqlite/, later postgres/) implement Store; engines and tests depend only on this.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/correlate/incident.hpp"
#include "coordinator/storage/silence_record.hpp" // silences (block at the end of Store)
#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::storage {

// The newest value of one series (agent, name, labels).
struct LatestSample {
  std::string name;
  std::string labels; // canonical_labels() text
  double value = 0;
  std::int64_t time_ms = 0;
  friend bool operator==(const LatestSample&, const LatestSample&) = default;
};

struct AgentRecord {
  std::string id;
  std::string host;               // '' until the agent's HELLO is stored
  std::string version;            // ditto
  std::string labels_json = "{}"; // the HELLO's labels as a JSON object, keys sorted
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::uint64_t last_seq = 0;        // highest batch seq stored, whatever order batches arrived in
  std::uint64_t batches = 0;         // distinct batches stored (duplicates not counted)
  std::uint64_t samples = 0;         // samples in those batches
  std::uint64_t dropped_batches = 0; // what the agent's spool had to drop (cumulative)
  std::uint64_t dropped_items = 0;
  std::vector<LatestSample> latest; // ordered by name, then labels
  friend bool operator==(const AgentRecord&, const AgentRecord&) = default;
};

// An enrolled agent's CURVE public key: the ZAP allowlist admits it while revoked_ms is 0.
struct AgentKey {
  std::string public_key; // Z85, 40 characters
  std::string agent_id;   // the only agent id messages over this key may carry
  std::int64_t added_ms = 0;
  std::int64_t revoked_ms = 0;
  friend bool operator==(const AgentKey&, const AgentKey&) = default;
};

// A signal as stored, with the agent that sent it.
struct SignalRecord {
  std::string agent_id;
  std::uint64_t batch_seq = 0;
  protocol::Signal signal; // labels come back sorted by name
  std::int64_t received_ms = 0;
  friend bool operator==(const SignalRecord&, const SignalRecord&) = default;
};

struct LogEventRecord {
  std::string agent_id;
  std::uint64_t batch_seq = 0;
  protocol::LogEvent event; // labels come back sorted by name
  std::int64_t received_ms = 0;
  friend bool operator==(const LogEventRecord&, const LogEventRecord&) = default;
};

// An action outcome as stored: an answer to a COMMAND or an action the agent took on its own.
struct ResultRecord {
  std::string agent_id;
  std::uint64_t batch_seq = 0;
  protocol::CommandResult result; // params come back sorted by name
  std::int64_t received_ms = 0;
  friend bool operator==(const ResultRecord&, const ResultRecord&) = default;
};

// An agent's remediation budget for one (target, action), as it last reported it.
struct BudgetRecord {
  std::string agent_id;
  protocol::BudgetReport budget;
  std::int64_t updated_ms = 0;
  friend bool operator==(const BudgetRecord&, const BudgetRecord&) = default;
};

struct EvidenceRecord {
  std::string agent_id;
  std::uint64_t batch_seq = 0;
  protocol::Evidence evidence;
  std::int64_t received_ms = 0;
  friend bool operator==(const EvidenceRecord&, const EvidenceRecord&) = default;
};

// Which stored events to read back: newest first (or oldest first), at most `limit`.
struct EventQuery {
  std::string agent_id; // '' for every agent
  std::int64_t since_ms = 0;
  std::size_t limit = 100;
  // Inclusive upper bound on the event's time (time_ms; started_ms for action results).
  std::int64_t until_ms = std::numeric_limits<std::int64_t>::max();
  // Oldest first (by time, then arrival): a backtest replays a period in order.
  bool oldest_first = false;
};

// An incident as stored, with what the engines concluded about it.
struct IncidentRecord {
  correlate::Incident incident;
  std::string diagnosis_json = "{}"; // the latest Diagnosis, as the engine serialised it
  bool false_positive = false;       // an operator said it was not a real problem
  bool escalated = false;
  friend bool operator==(const IncidentRecord&, const IncidentRecord&) = default;
};

// One step of the audit trail: who did what, when, to which incident (0: none), and why.
struct AuditEntry {
  std::uint64_t seq = 0; // assigned by the store, in the order entries were appended
  correlate::IncidentId incident_id = 0;
  std::int64_t time_ms = 0;
  std::string actor; // "coordinator", "operator:<uid>", "agent:<id>"
  std::string kind;  // "opened", "diagnosed", "decided", "command", "result", "escalated", ...
  std::string text;  // a plain sentence
  std::string detail_json = "{}";
  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

struct IncidentQuery {
  bool open_only = false;
  std::string host;                                           // '' for every host
  protocol::Severity min_severity = protocol::Severity::info; // this or worse
  std::int64_t since_ms = 0;                                  // last seen at or after
  std::size_t limit = 100;
};

// ---- Samples over time, retention and the daily healing figures (issue 7) ----

// Which samples to read back: one agent's series by name ('' any), labels (nullopt: any) and
// time range (inclusive), oldest first, at most `limit` points.
struct SeriesQuery {
  std::string agent_id;
  std::string name;
  std::optional<std::string> labels; // canonical_labels() text
  std::int64_t since_ms = 0;
  std::int64_t until_ms = std::numeric_limits<std::int64_t>::max();
  std::size_t limit = 10'000;
};

enum class RollupPeriod { minute, hour };

// One series over one minute or hour: count, sum (mean = sum / count), min and max.
struct SeriesRollup {
  std::string name;
  std::string labels;
  std::int64_t bucket_ms = 0;
  std::int64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  friend bool operator==(const SeriesRollup&, const SeriesRollup&) = default;
};

struct RollupFlush {
  std::size_t minute_rows = 0; // minute roll-up rows written (merged into existing ones)
  std::size_t hours = 0;       // hours rolled up from their minutes
  std::size_t open_buckets = 0;
  std::uint64_t dropped = 0; // samples left out of roll-ups because the buffer was full (total)
};

// How long each kind of row is kept; 0 keeps it for ever.
struct RetentionPolicy {
  std::int64_t raw_ms = 7 * 86'400'000LL;      // raw samples, and the batch claims dedup needs
  std::int64_t minute_ms = 30 * 86'400'000LL;  // minute roll-ups
  std::int64_t hour_ms = 400 * 86'400'000LL;   // hour roll-ups
  std::int64_t events_ms = 30 * 86'400'000LL;  // signals, log events, evidence
  std::size_t max_rows_per_call = 50'000;      // per table, so the worker is never held long
};

struct RetentionOutcome {
  std::size_t deleted = 0; // rows, every table together
  bool more = false;       // a table had more to delete than max_rows_per_call: call again
};

// One UTC day of self-healing (the seeds' daily self-healing metrics), from the engine's
// effectiveness counters: incidents opened that day, how they ended, and how fast.
struct DailyHealingMetrics {
  std::string day; // YYYY-MM-DD (UTC)
  std::int64_t opened = 0;
  std::int64_t resolved = 0;
  std::int64_t auto_recovered = 0;
  std::int64_t escalated = 0;
  std::int64_t false_positives = 0;
  std::int64_t actions = 0;
  std::int64_t actions_succeeded = 0;
  double mttd_ms = 0; // mean over the incidents detected that day; 0 when none
  double mttr_ms = 0; // mean over the incidents resolved that day; 0 when none
  std::int64_t updated_ms = 0;
  friend bool operator==(const DailyHealingMetrics&, const DailyHealingMetrics&) = default;
};

enum class BatchOutcome {
  stored,    // first time this (agent, seq) was seen; its effects are now durable
  duplicate, // already stored earlier; nothing changed (ack it again)
};

// Every method is called from the storage worker thread only; implementations need not be
// thread-safe. Errors are ErrorCode::storage for database failures and
// ErrorCode::invalid_argument for input no backend can store (empty agent id, seq > 2^63-1).
class Store {
public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  virtual ~Store() = default;

  // Creates or updates the agent: host, version and labels replace what was there;
  // first_seen_ms is set only when the agent is new; last_seen_ms becomes received_ms.
  [[nodiscard]] virtual Result<void> record_hello(const protocol::Envelope& envelope,
                                                  const protocol::Hello& hello,
                                                  std::int64_t received_ms) = 0;

  // Stores a batch exactly once per (envelope.agent_id, envelope.seq), atomically: either all of
  // its effects (agent counters, raw samples, signals, log events, action results, budgets,
  // evidence) are stored, or none and an error is returned, so a retry after a failure is safe.
  // Latest values and minute roll-ups are derived in memory once the batch committed and written
  // behind (flush_rollups; list_agents writes the latest values first): a crash loses at most
  // the latest values of the last 5 minutes and the open minutes, never a raw sample. An agent
  // that never sent HELLO is created with empty host and version. A sample older than the
  // stored one for its series does not replace it.
  [[nodiscard]] virtual Result<BatchOutcome> record_batch(const protocol::Envelope& envelope,
                                                          const protocol::Batch& batch,
                                                          std::int64_t received_ms) = 0;

  // Several batches at once, as ingest hands them over: one transaction for the group where the
  // backend can (one commit instead of one per batch), each batch still stored exactly once and
  // atomically — a batch that fails is rolled back alone and its slot says why; if the group's
  // commit fails, every slot does. The default stores them one by one.
  struct BatchToStore {
    const protocol::Envelope* envelope = nullptr;
    const protocol::Batch* batch = nullptr;
    std::int64_t received_ms = 0;
  };
  [[nodiscard]] virtual std::vector<Result<BatchOutcome>> record_batches(
      std::span<const BatchToStore> batches) {
    std::vector<Result<BatchOutcome>> outcomes;
    outcomes.reserve(batches.size());
    for (const auto& one : batches) {
      outcomes.push_back(record_batch(*one.envelope, *one.batch, one.received_ms));
    }
    return outcomes;
  }

  // Signals and log events, newest first (by time_ms, then arrival).
  [[nodiscard]] virtual Result<std::vector<SignalRecord>> recent_signals(
      const EventQuery& query) = 0;
  [[nodiscard]] virtual Result<std::vector<LogEventRecord>> recent_log_events(
      const EventQuery& query) = 0;

  // Action outcomes, newest first (by started_ms, then arrival).
  [[nodiscard]] virtual Result<std::vector<ResultRecord>> recent_results(
      const EventQuery& query) = 0;
  // Budgets as each agent last reported them ('' agent: all), by agent, target, action.
  [[nodiscard]] virtual Result<std::vector<BudgetRecord>> list_budgets(
      std::string_view agent_id) = 0;
  // Diagnostic evidence, newest first.
  [[nodiscard]] virtual Result<std::vector<EvidenceRecord>> recent_evidence(
      const EventQuery& query) = 0;
  // Every agent ordered by id (bytewise), each with its latest samples.
  [[nodiscard]] virtual Result<std::vector<AgentRecord>> list_agents() = 0;

  // Enrols a key for an agent id. Adding the same active (key, agent) again is a no-op; a key
  // enrolled for another agent, or revoked before, is refused (ErrorCode::invalid_argument).
  [[nodiscard]] virtual Result<void> add_key(const AgentKey& key) = 0;
  // Revokes the key given, or every active key of the agent id given; returns what it revoked
  // (empty when nothing matched).
  [[nodiscard]] virtual Result<std::vector<AgentKey>> revoke_keys(std::string_view agent_or_key,
                                                                  std::int64_t now_ms) = 0;
  // Every key ever enrolled, active and revoked, ordered by agent id then key.
  [[nodiscard]] virtual Result<std::vector<AgentKey>> list_keys() = 0;

  // Upserts the incidents (by id) and appends the audit entries, in one transaction.
  [[nodiscard]] virtual Result<void> save_incidents(std::span<const IncidentRecord> incidents,
                                                    std::span<const AuditEntry> audit) = 0;
  // Newest first (by last_seen_ms, then id).
  [[nodiscard]] virtual Result<std::vector<IncidentRecord>> list_incidents(
      const IncidentQuery& query) = 0;
  [[nodiscard]] virtual Result<std::optional<IncidentRecord>> get_incident(
      correlate::IncidentId id) = 0;
  // The highest incident id ever stored (0 when none), so ids are never reused.
  [[nodiscard]] virtual Result<correlate::IncidentId> max_incident_id() = 0;
  // An incident's audit trail in order (incident 0: entries about no incident), at most `limit`
  // (the oldest are kept).
  [[nodiscard]] virtual Result<std::vector<AuditEntry>> incident_audit(correlate::IncidentId id,
                                                                       std::size_t limit) = 0;
  // The engines' state documents, by name; nullopt when never saved.
  [[nodiscard]] virtual Result<void> put_engine_state(std::string_view name,
                                                      std::string_view document,
                                                      std::int64_t now_ms) = 0;
  [[nodiscard]] virtual Result<std::optional<std::string>> get_engine_state(
      std::string_view name) = 0;

  // ---- Samples over time, retention, daily healing figures ----
  // record_batch stores every batch's samples raw (one packed row, sample_pack.hpp) and adds
  // them to minute roll-ups held in memory; flush_rollups writes the minutes that ended at or
  // before `closed_before_ms` (merged with rows already there, so a late batch adds up), then
  // rolls every whole hour before that from its minutes into the hour table. INT64_MAX writes
  // every open minute (shutdown). Roll-ups not yet flushed when the process dies are lost; the
  // raw rows are not.
  [[nodiscard]] virtual Result<RollupFlush> flush_rollups(std::int64_t closed_before_ms) = 0;
  // Raw samples of one agent (query.agent_id required), oldest first.
  [[nodiscard]] virtual Result<std::vector<LatestSample>> read_samples(
      const SeriesQuery& query) = 0;
  // Roll-ups of one agent, by bucket then name and labels.
  [[nodiscard]] virtual Result<std::vector<SeriesRollup>> read_rollups(
      RollupPeriod period, const SeriesQuery& query) = 0;
  // Deletes what `policy` no longer keeps, oldest first, bounded per call.
  [[nodiscard]] virtual Result<RetentionOutcome> apply_retention(const RetentionPolicy& policy,
                                                                 std::int64_t now_ms) = 0;
  // Upserts one day's figures (by day); newest day first when listed.
  [[nodiscard]] virtual Result<void> put_daily_metrics(const DailyHealingMetrics& metrics) = 0;
  [[nodiscard]] virtual Result<std::vector<DailyHealingMetrics>> list_daily_metrics(
      std::size_t limit) = 0;

  // ---- Silences (docs/silences.md; sqlite/sqlite_store_silences.cpp,
  // postgres/postgres_store_silences.cpp) ----
  // Each call is one committed transaction: `medicctl silence add|expire` answers only after
  // it, so a crash never forgets a new silence nor brings back an expired one.
  // Adds a silence; an id already stored is refused (ErrorCode::invalid_argument).
  [[nodiscard]] virtual Result<void> add_silence(const SilenceRecord& silence) = 0;
  // Ends a silence now: expired_ms = now_ms, expired_by = actor, ends_ms = min(ends_ms, now_ms).
  // Returns the row as it is now; nullopt when no silence has this id. A silence already
  // expired (early or by its end) is returned unchanged.
  [[nodiscard]] virtual Result<std::optional<SilenceRecord>> expire_silence(
      std::string_view id, std::string_view actor, std::int64_t now_ms) = 0;
  // Silences not yet ended at now_ms (pending and active), or every one with `all`; ordered by
  // ends_ms then id (all: newest created first), at most `limit`.
  [[nodiscard]] virtual Result<std::vector<SilenceRecord>> list_silences(bool all,
                                                                         std::int64_t now_ms,
                                                                         std::size_t limit) = 0;
};

// The canonical text of a label set, the key every backend stores a series under: "k=v,k2=v2"
// sorted by name (then value), "" when there are none. A '\\', ',' or '=' inside a name or value
// is escaped with a backslash, so two different label sets never share a key.
[[nodiscard]] inline std::string canonical_labels(std::span<const protocol::Label> labels) {
  std::vector<const protocol::Label*> sorted;
  sorted.reserve(labels.size());
  for (const auto& label : labels) {
    sorted.push_back(&label);
  }
  std::sort(sorted.begin(), sorted.end(), [](const protocol::Label* a, const protocol::Label* b) {
    return a->name != b->name ? a->name < b->name : a->value < b->value;
  });
  const auto append_escaped = [](std::string& out, std::string_view text) {
    for (const char c : text) {
      if (c == '\\' || c == ',' || c == '=') {
        out += '\\';
      }
      out += c;
    }
  };
  std::string text;
  for (const auto* label : sorted) {
    if (!text.empty()) {
      text += ',';
    }
    append_escaped(text, label->name);
    text += '=';
    append_escaped(text, label->value);
  }
  return text;
}

} // namespace medic::coordinator::storage
