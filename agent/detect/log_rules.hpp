// SPDX-License-Identifier: Apache-2.0
// Log rules on top of LogMatcher and TemplateMiner. Every line goes once through the template
// miner (when enabled) and once through one multi-pattern matcher holding every rule's pattern.
// For each rule that matched (and whose source filter admits the line):
// - on_event() hands the line to the sink (rule id, template id, labels) for shipping;
// - the rule's count-in-window (LogCountWindow) may fire: "5 'Connection refused' in 60 s";
//   it clears once the count has stayed below the threshold for the quiet period (tick() lets
//   time pass without lines).
// Labels come from the rule pattern's named groups, (?P<name>...), extracted by RE2 only on
// lines that matched that rule; at most max_labels per rule (the first by position), values cut
// to max_label_bytes. RE2 allocates while extracting submatches, so only rules with named
// groups pay that, and only on their matches.
// A line whose template the miner has never seen, which looks like an error (a known syslog
// priority <= 3, else error_level_pattern on the line), produces a new_error_template signal,
// at most new_error_template_burst of them per minute (the rest are counted).
//
// Not thread-safe: the agent's loop owns the rule set and calls process() and tick().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/detect/log_matcher.hpp"
#include "shared/error.hpp"
#include "shared/logs/template_miner.hpp"

namespace medic::agent::detect {

struct LogRule {
  std::uint32_t id = 0; // >= 1 and unique (0 is the new-error-template signal)
  std::string pattern;  // RE2 syntax; named groups become labels
  bool case_insensitive = false;
  std::vector<std::string> sources; // empty: every source; else exact source names
  std::uint32_t count = 1;          // matches within window_ms that fire the rule (1..10000)
  std::int64_t window_ms = 60'000;  // 1 ms .. 1 day
  std::int64_t quiet_ms = 60'000;   // below the count this long before clearing (0 .. 1 day)
};

struct LogRulesOptions {
  MatcherEngine engine = MatcherEngine::hyperscan;
  std::size_t max_line_bytes = 512;  // line text kept in signals and handed to events
  std::size_t max_labels = 8;        // per rule
  std::size_t max_label_bytes = 128; // per value
  bool mine_templates = true;        // run the template miner on every line
  logs::TemplateMinerOptions miner;  // defaults tuned on Loghub (template_miner.hpp)
  bool new_error_templates = true;   // needs mine_templates
  std::string error_level_pattern = R"(\b(ERROR|ERR|FATAL|CRIT|CRITICAL|EMERG|ALERT|PANIC|)"
                                    R"([Ee]rror|[Ff]atal|[Cc]ritical|[Pp]anic)\b)";
  std::uint32_t new_error_template_burst = 30; // signals per minute at most
};

// A line as the tail hands it over. `message` is what the miner sees: the line without its
// syslog/journal header when the tail knows where it ends, else the whole text.
struct LogLine {
  std::string_view source; // e.g. the file path or journal unit the line came from
  std::string_view text;   // matched against the rule patterns
  std::string_view message;
  int priority = -1;     // syslog priority 0..7 when known (journal), -1 when not
  std::int64_t t_ms = 0; // monotonic milliseconds
  bool may_match = true; // false: no pattern can match (a prefilter said so); only mined
};

struct LogLabel {
  std::string_view name;
  std::string_view value;
};

enum class LogSignalKind : std::uint8_t { fire, clear, new_error_template };

// Views are valid only during the sink call.
struct LogSignal {
  std::uint32_t rule_id = 0; // 0 for new_error_template
  LogSignalKind kind = LogSignalKind::fire;
  std::uint32_t count_in_window = 0;
  std::uint32_t template_id = 0;    // of `line`; 0 when mining is off
  std::string_view source;          // of `line`
  std::string_view line;            // fire/clear: first line of the burst; new template: the line
  std::span<const LogLabel> labels; // extracted from `line`
  std::int64_t t_ms = 0;            // when the change happened
};

struct LogEvent {
  std::uint32_t rule_id = 0;
  std::uint32_t template_id = 0;
  std::string_view source;
  std::string_view line; // cut to max_line_bytes
  std::span<const LogLabel> labels;
  std::int64_t t_ms = 0;
};

// Called on the loop thread from inside process() and tick(); must not throw.
class LogSink {
public:
  virtual ~LogSink() = default;
  virtual void on_signal(const LogSignal& signal) noexcept = 0;
  virtual void on_event(const LogEvent& event) noexcept = 0;
};

struct LogRuleCounters {
  std::uint64_t lines = 0;
  std::uint64_t matches = 0;
  std::uint64_t fires = 0;
  std::uint64_t new_error_templates = 0;
  std::uint64_t new_error_templates_dropped = 0; // over the per-minute burst
  std::uint64_t scan_errors = 0;
};

class LogRules {
public:
  // Fails with invalid_argument naming the rule ("rule 7: count must be in 1..10000") or the
  // pattern (see LogMatcher::compile). An empty rule list is allowed (mining only).
  [[nodiscard]] static Result<LogRules> create(std::vector<LogRule> rules,
                                               LogRulesOptions options = {});

  LogRules(LogRules&& other) noexcept;
  LogRules& operator=(LogRules&& other) noexcept;
  LogRules(const LogRules&) = delete;
  LogRules& operator=(const LogRules&) = delete;
  ~LogRules();

  // Mines, matches, and reports through the sink. Returns the line's template id (0 when mining
  // is off). No allocation in the steady state except RE2 label extraction (see above).
  std::uint32_t process(const LogLine& line, LogSink& sink);
  // Lets time pass: rules whose quiet period ended clear. Call from a timer (e.g. each second).
  void tick(std::int64_t t_ms, LogSink& sink);

  [[nodiscard]] const LogRuleCounters& counters() const noexcept;
  [[nodiscard]] bool firing(std::uint32_t rule_id) const noexcept;
  // Null when mining is off.
  [[nodiscard]] const logs::TemplateMiner* miner() const noexcept;

private:
  struct Impl;
  explicit LogRules(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

[[nodiscard]] std::string_view to_string(LogSignalKind kind) noexcept;

} // namespace medic::agent::detect
