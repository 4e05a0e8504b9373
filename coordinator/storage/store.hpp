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
  // its effects (agent counters, latest samples, signals, log events, action results, budgets,
  // evidence) are stored, or none and an
  // error is returned, so a retry after a failure is safe. An agent that never sent HELLO is
  // created with empty host and version. A sample older than the stored one for its series does not
  // replace it.
  [[nodiscard]] virtual Result<BatchOutcome> record_batch(const protocol::Envelope& envelope,
                                                          const protocol::Batch& batch,
                                                          std::int64_t received_ms) = 0;

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
