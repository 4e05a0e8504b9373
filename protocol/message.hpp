// SPDX-License-Identifier: Apache-2.0
// The wire contract's value types: the envelope every message carries and the message bodies.
// PROTOCOL.md is the normative description; these structs mirror it field for field.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace medic::protocol {

inline constexpr std::uint32_t k_version = 1;

enum class MessageType : std::uint8_t {
  hello = 1,
  batch = 2,
  ack = 3,
  heartbeat = 4,
  command = 5,
  result = 6,
  error = 7,
  policy = 8,
};

[[nodiscard]] std::string_view to_string(MessageType type) noexcept;

// Hard limits every decoder enforces before it allocates. See PROTOCOL.md, "Limits".
struct Limits {
  static constexpr std::size_t k_max_frame_bytes = 1 << 20;
  static constexpr std::size_t k_max_id_bytes = 64;
  static constexpr std::size_t k_max_name_bytes = 128;
  static constexpr std::size_t k_max_text_bytes = 1024;
  static constexpr std::size_t k_max_label_value_bytes = 256;
  static constexpr std::size_t k_max_body_keys = 64;
  static constexpr std::size_t k_max_labels = 32;
  static constexpr std::size_t k_max_samples = 10'000;
  static constexpr std::size_t k_max_skip_depth = 8;
  static constexpr std::size_t k_max_params = 32;
  static constexpr std::size_t k_max_param_value_bytes = 1024;
  static constexpr std::size_t k_max_output_bytes = 4096;
  static constexpr std::size_t k_max_actions = 256;
  static constexpr std::size_t k_max_enum_values = 64;
  static constexpr std::size_t k_max_signals = 1'000;
  static constexpr std::size_t k_max_log_events = 1'000;
  static constexpr std::size_t k_max_log_text_bytes = 4096;
  static constexpr std::size_t k_max_path_bytes = 1024;
  static constexpr std::size_t k_max_results = 256;
  static constexpr std::size_t k_max_budgets = 256;
  static constexpr std::size_t k_max_evidence = 64;
  static constexpr std::size_t k_max_windows = 256;
  static constexpr std::size_t k_max_window_services = 32;
  static constexpr std::size_t k_max_policy_reason_bytes = 256;
};

struct Envelope {
  std::uint32_t version = k_version;
  MessageType type = MessageType::batch;
  std::string agent_id;
  std::uint64_t seq = 0;       // per-sender sequence number; batches start at 1
  std::int64_t sent_at_ms = 0; // sender's wall clock, Unix milliseconds
};

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
};

struct Sample {
  std::string name;
  double value = 0;
  std::int64_t time_ms = 0;
  std::vector<Label> labels;
  friend bool operator==(const Sample&, const Sample&) = default;
};

// One parameter of a catalog action, as the agent will validate it (see PROTOCOL.md).
struct ParamSchema {
  std::string name;
  std::string type; // "string", "int", "enum", "path" or "duration"
  bool required = true;
  std::vector<std::string> allowed; // for "enum"
  std::string pattern;              // for "string": a regular expression the whole value matches
  std::optional<std::int64_t> min;  // for "int" and "duration" (ms)
  std::optional<std::int64_t> max;
  friend bool operator==(const ParamSchema&, const ParamSchema&) = default;
};

// One action of the agent's local catalog: the only things a COMMAND may name.
struct ActionSchema {
  std::string name;
  std::string risk; // "low", "medium", "high" or "critical"
  std::vector<ParamSchema> params;
  friend bool operator==(const ActionSchema&, const ActionSchema&) = default;
};

struct Hello {
  std::string host;
  std::string agent_version;
  std::vector<Label> labels;
  std::vector<ActionSchema> actions;
  friend bool operator==(const Hello&, const Hello&) = default;
};

// What the agent's spool had to throw away since it was created (cumulative, so a repeat is
// harmless): the coordinator keeps the largest values it has seen.
struct DropCounts {
  std::uint64_t batches = 0;
  std::uint64_t items = 0;
  std::uint64_t bytes = 0;
  friend bool operator==(const DropCounts&, const DropCounts&) = default;
};

// The seeds' taxonomy: what a signal is about, and how bad it is.
enum class Category : std::uint8_t {
  authentication,
  database,
  api,
  performance,
  integration,
  resource,
  configuration,
  network,
};
enum class Severity : std::uint8_t { critical, high, medium, low, info };
enum class SignalState : std::uint8_t { firing, cleared };

[[nodiscard]] std::string_view to_string(Category category) noexcept;
[[nodiscard]] std::string_view to_string(Severity severity) noexcept;
[[nodiscard]] std::string_view to_string(SignalState state) noexcept;
// nullopt for a word that is not one of the enumerators' to_string() forms.
[[nodiscard]] std::optional<Category> parse_category(std::string_view text) noexcept;
[[nodiscard]] std::optional<Severity> parse_severity(std::string_view text) noexcept;
[[nodiscard]] std::optional<SignalState> parse_signal_state(std::string_view text) noexcept;

// A detector's verdict changed on the agent: a rule started or stopped firing. The
// fingerprint (rule plus the labels that tell instances apart) pairs a clear with its fire.
struct Signal {
  std::string rule;
  SignalState state = SignalState::firing;
  Severity severity = Severity::medium;
  Category category = Category::resource;
  std::string fingerprint;
  double value = 0;
  std::int64_t time_ms = 0;
  std::vector<Label> labels;
  std::string message; // for people: what was seen, e.g. the first matching log line
  friend bool operator==(const Signal&, const Signal&) = default;
};

enum class LogEventKind : std::uint8_t {
  line, // a log record that matched a rule or opened a new error template
  gap,  // bytes of a log file the agent could not read (truncated or rotated away first)
};

struct LogEvent {
  LogEventKind kind = LogEventKind::line;
  std::string source; // the configured log source's name
  std::string path;
  std::int64_t time_ms = 0;
  std::uint64_t offset = 0; // of the record's (or the gap's) first byte in the file
  std::string text;         // the record, or for a gap the reason ("truncated", ...)
  std::string rule;         // the log rule it matched; empty when none
  std::optional<std::uint32_t> template_id;
  std::uint64_t gap_bytes = 0;
  std::vector<Label> labels; // fields the rule extracted
  friend bool operator==(const LogEvent&, const LogEvent&) = default;
};

// The coordinator asks an agent to run one action of the agent's own catalog.
struct Command {
  std::string id;               // unique; an agent never runs an id twice
  std::int64_t deadline_ms = 0; // Unix ms; an agent never starts it later than this
  std::string action;           // a name from the agent's local catalog
  std::vector<Label> params;    // validated by the agent against the action's schema
  friend bool operator==(const Command&, const Command&) = default;
};

enum class ResultStatus : std::uint8_t {
  succeeded,
  failed,       // ran, and the action or its post-condition failed
  rejected,     // not run: unknown action or a parameter outside its schema
  expired,      // not run: arrived after its deadline
  duplicate,    // not run again: this id was seen before (the first outcome is resent)
  timed_out,    // ran, and was killed at its timeout
  dry_run,      // decided and recorded, not executed: the agent runs in dry-run mode
  needs_person, // not run: the target's remediation budget is spent or it flaps; a person must look
};

[[nodiscard]] std::string_view to_string(ResultStatus status) noexcept;
[[nodiscard]] std::optional<ResultStatus> parse_result_status(std::string_view text) noexcept;

// What became of an action: the answer to a COMMAND, or a report of what the agent did on its
// own (origin "local", no command id). Agents send these inside BATCH `results`, so they travel
// through the spool like everything else; a standalone RESULT message carries one.
struct CommandResult {
  std::string command_id; // empty for a local action
  ResultStatus status = ResultStatus::rejected;
  std::string reason;          // why, for people
  std::int64_t exit_code = -1; // -1 when it did not run or was killed
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  std::string output; // the first k_max_output_bytes of stdout and stderr
  // Optional details (empty / 0 when not known):
  std::string origin;          // "coordinator" or "local"
  std::string action;          // the catalog action
  std::string rule;            // local: the heal rule that decided it
  std::string target;          // local: the fingerprint of the signal it answered
  std::vector<Label> params;   // as bound
  std::string post_check;      // "passed" or "failed" when a post-condition was checked
  std::string rollback;        // the rollback action run after a failed post-condition
  std::string rollback_status; // its ResultStatus word
  std::string plan;            // what was (or in dry-run would have been) done
  std::uint64_t audit_seq = 0; // the agent's local audit trail number: orders local actions
  friend bool operator==(const CommandResult&, const CommandResult&) = default;
};

// The agent's remediation budget for one (target, action): the state it healed under while it
// was cut off, so the coordinator continues from it instead of starting over.
struct BudgetReport {
  std::string target;
  std::string action;
  std::uint64_t attempts = 0;
  std::int64_t window_start_ms = 0;
  std::int64_t next_allowed_ms = 0;
  bool needs_person = false;
  friend bool operator==(const BudgetReport&, const BudgetReport&) = default;
};

// Output of a diagnostic action run when a signal fired: the evidence beside the signal.
struct Evidence {
  std::string fingerprint; // of the signal it belongs to
  std::string rule;
  std::string action; // the diagnostic action
  std::int64_t time_ms = 0;
  ResultStatus status = ResultStatus::succeeded;
  std::string output;
  friend bool operator==(const Evidence&, const Evidence&) = default;
};

struct Batch {
  std::vector<Sample> samples;
  std::vector<Signal> signals;
  std::vector<LogEvent> logs;
  std::vector<CommandResult> results;
  std::vector<BudgetReport> budgets;
  std::vector<Evidence> evidence;
  DropCounts dropped;
  friend bool operator==(const Batch&, const Batch&) = default;
};

// Liveness, both ways. The agent reports its spool; the coordinator's heartbeat is empty.
struct Heartbeat {
  std::uint64_t spool_batches = 0;
  std::uint64_t spool_bytes = 0;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

struct Ack {
  std::uint64_t acked_seq = 0; // the batch sequence number now stored
  friend bool operator==(const Ack&, const Ack&) = default;
};

struct ErrorReply {
  std::string code;                     // machine-readable, e.g. "malformed", "unsupported-version"
  std::string message;                  // for people
  std::optional<std::uint64_t> ref_seq; // absent when the refused seq could not be read
  friend bool operator==(const ErrorReply&, const ErrorReply&) = default;
};

// A fleet-wide stop of the agent's own healing: on until lifted, or until until_ms (Unix ms).
struct Freeze {
  bool on = false;
  std::int64_t until_ms = 0; // 0: until lifted; else >= 0
  std::string reason;
  friend bool operator==(const Freeze&, const Freeze&) = default;
};

// A maintenance window that applies to the agent it is sent to: [start_ms, end_ms) in Unix ms.
// No services: the whole host; else only what names one of them (see PROTOCOL.md, POLICY).
struct MaintenanceWindow {
  std::string id;
  std::int64_t start_ms = 0; // >= 0
  std::int64_t end_ms = 0;   // > start_ms
  std::vector<std::string> services;
  std::string reason;
  friend bool operator==(const MaintenanceWindow&, const MaintenanceWindow&) = default;
};

// What the coordinator wants the agent's own (fallback) healing to honour, even while the
// coordinator is unreachable. `version` orders policies: the agent keeps only a newer one.
struct Policy {
  std::uint64_t version = 0; // > 0: Unix ms of the coordinator's last policy change
  Freeze freeze;
  std::vector<MaintenanceWindow> windows;
  friend bool operator==(const Policy&, const Policy&) = default;
};

using Body = std::variant<Hello, Batch, Ack, Heartbeat, Command, CommandResult, ErrorReply, Policy>;

struct Message {
  Envelope envelope;
  Body body;
};

// Encoding side views: the agent encodes from these without building owned strings per sample.
struct LabelView {
  std::string_view name;
  std::string_view value;
};

struct SampleView {
  std::string_view name;
  double value = 0;
  std::int64_t time_ms = 0;
  std::span<const LabelView> labels;
};

struct SignalView {
  std::string_view rule;
  SignalState state = SignalState::firing;
  Severity severity = Severity::medium;
  Category category = Category::resource;
  std::string_view fingerprint;
  double value = 0;
  std::int64_t time_ms = 0;
  std::span<const LabelView> labels;
  std::string_view message;
};

struct LogEventView {
  LogEventKind kind = LogEventKind::line;
  std::string_view source;
  std::string_view path;
  std::int64_t time_ms = 0;
  std::uint64_t offset = 0;
  std::string_view text;
  std::string_view rule;
  std::optional<std::uint32_t> template_id;
  std::uint64_t gap_bytes = 0;
  std::span<const LabelView> labels;
};

// Everything one BATCH carries, as views (the agent's buffers own the bytes).
struct BatchView {
  std::span<const SampleView> samples;
  std::span<const SignalView> signals;
  std::span<const LogEventView> logs;
  std::span<const CommandResult> results;
  std::span<const BudgetReport> budgets;
  std::span<const Evidence> evidence;
  DropCounts dropped;
};

} // namespace medic::protocol
