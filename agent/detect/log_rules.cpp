// SPDX-License-Identifier: Apache-2.0
#include "agent/detect/log_rules.hpp"

#include <optional>
#include <unordered_set>
#include <utility>

#include <re2/re2.h>

#include "agent/detect/log_labels.hpp"
#include "agent/detect/log_window.hpp"

namespace medic::agent::detect {

namespace {

constexpr std::uint32_t k_max_count = 10'000;
constexpr std::int64_t k_max_window_ms = std::int64_t{24} * 3600 * 1000;
constexpr std::int64_t k_minute_ms = 60'000;

struct RuleState {
  LogRule rule;
  LogCountWindow window;
  LogLabelExtractor extractor;
  StoredLine first; // first line of the current burst
};

std::string rule_name(const LogRule& rule) {
  return "rule " + std::to_string(rule.id);
}

Result<void> check_rule(const LogRule& rule) {
  const auto bad = [&](std::string what) {
    return fail(ErrorCode::invalid_argument, rule_name(rule) + ": " + std::move(what));
  };
  if (rule.id == 0) {
    return bad("id must be at least 1 (0 is the new-error-template signal)");
  }
  if (rule.count < 1 || rule.count > k_max_count) {
    return bad("count must be in 1..10000, got " + std::to_string(rule.count));
  }
  if (rule.window_ms < 1 || rule.window_ms > k_max_window_ms) {
    return bad("window must be between 1 ms and 1 day, got " + std::to_string(rule.window_ms) +
               " ms");
  }
  if (rule.quiet_ms < 0 || rule.quiet_ms > k_max_window_ms) {
    return bad("quiet period must be between 0 and 1 day, got " + std::to_string(rule.quiet_ms) +
               " ms");
  }
  return {};
}

Result<void> check_options(const LogRulesOptions& options) {
  const auto bad = [](std::string what) {
    return fail(ErrorCode::invalid_argument, "log rules: " + std::move(what));
  };
  if (options.max_line_bytes < 16 || options.max_line_bytes > 65536) {
    return bad("max_line_bytes must be in 16..65536, got " +
               std::to_string(options.max_line_bytes));
  }
  if (options.max_labels > 64) {
    return bad("max_labels must be at most 64, got " + std::to_string(options.max_labels));
  }
  if (options.max_label_bytes < 1 || options.max_label_bytes > 4096) {
    return bad("max_label_bytes must be in 1..4096, got " +
               std::to_string(options.max_label_bytes));
  }
  return {};
}

bool source_admitted(const LogRule& rule, std::string_view source) noexcept {
  if (rule.sources.empty()) {
    return true;
  }
  for (const std::string& s : rule.sources) {
    if (s == source) {
      return true;
    }
  }
  return false;
}

} // namespace

struct LogRules::Impl {
  LogRulesOptions options;
  std::vector<RuleState> rules; // index = pattern index in the matcher
  std::optional<LogMatcher> matcher;
  std::optional<MatchSet> matched;
  std::optional<logs::TemplateMiner> miner;
  std::unique_ptr<RE2> error_level;
  LogRuleCounters counters;
  bool burst_started = false;
  std::int64_t burst_minute_start = 0;
  std::uint32_t burst_used = 0;

  void on_new_template(const LogLine& line, std::uint32_t template_id, LogSink& sink);
  void on_match(RuleState& state, const LogLine& line, std::uint32_t template_id, LogSink& sink);
  void emit(RuleState& state, LogSignalKind kind, std::int64_t t_ms, LogSink& sink) const;
};

namespace {

// Checks every rule and builds its state; returns the patterns for the matcher, in rule order.
Result<std::vector<LogPattern>> add_rules(std::vector<RuleState>& states,
                                          std::vector<LogRule> rules,
                                          const LogRulesOptions& options) {
  states.reserve(rules.size()); // StoredLine views must never move
  std::vector<LogPattern> patterns;
  for (LogRule& rule : rules) {
    if (auto checked = check_rule(rule); !checked) {
      return fail(std::move(checked.error()));
    }
    auto extractor = LogLabelExtractor::create(rule.pattern, rule.case_insensitive,
                                               options.max_labels, options.max_label_bytes);
    if (!extractor) {
      return fail(std::move(extractor.error()).context(rule_name(rule)));
    }
    patterns.push_back(LogPattern{rule.id, rule.pattern, rule.case_insensitive});
    LogCountWindow window(rule.count, rule.window_ms, rule.quiet_ms);
    states.push_back(
        RuleState{std::move(rule), std::move(window), std::move(*extractor),
                  StoredLine(options.max_line_bytes, options.max_labels, options.max_label_bytes)});
  }
  return patterns;
}

// Null when new-error-template signals are off or the pattern is empty.
Result<std::unique_ptr<RE2>> compile_error_level(const LogRulesOptions& options) {
  if (!options.new_error_templates || options.error_level_pattern.empty()) {
    return std::unique_ptr<RE2>{};
  }
  RE2::Options re_options;
  re_options.set_encoding(RE2::Options::EncodingLatin1);
  re_options.set_log_errors(false);
  auto re = std::make_unique<RE2>(options.error_level_pattern, re_options);
  if (!re->ok()) {
    return fail(ErrorCode::invalid_argument, "log rules: error_level_pattern '" +
                                                 options.error_level_pattern + "': " + re->error());
  }
  return re;
}

} // namespace

Result<LogRules> LogRules::create(std::vector<LogRule> rules, LogRulesOptions options) {
  if (auto checked = check_options(options); !checked) {
    return fail(std::move(checked.error()));
  }
  auto impl = std::make_unique<Impl>();
  auto patterns = add_rules(impl->rules, std::move(rules), options);
  if (!patterns) {
    return fail(std::move(patterns.error()));
  }
  if (!patterns->empty()) {
    auto matcher = LogMatcher::compile(*patterns, options.engine);
    if (!matcher) {
      return fail(std::move(matcher.error()).context("log rules"));
    }
    impl->matched.emplace(matcher->make_match_set());
    impl->matcher.emplace(std::move(*matcher));
  }
  if (options.mine_templates) {
    auto miner = logs::TemplateMiner::create(options.miner);
    if (!miner) {
      return fail(std::move(miner.error()));
    }
    impl->miner.emplace(std::move(*miner));
  }
  auto error_level = compile_error_level(options);
  if (!error_level) {
    return fail(std::move(error_level.error()));
  }
  impl->error_level = std::move(*error_level);
  impl->options = std::move(options);
  return LogRules(std::move(impl));
}

LogRules::LogRules(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
LogRules::LogRules(LogRules&& other) noexcept = default;
LogRules& LogRules::operator=(LogRules&& other) noexcept = default;
LogRules::~LogRules() = default;

std::uint32_t LogRules::process(const LogLine& line, LogSink& sink) {
  Impl& impl = *m_impl;
  ++impl.counters.lines;
  std::uint32_t template_id = 0;
  if (impl.miner) {
    const logs::MineResult mined = impl.miner->add(line.message.empty() ? line.text : line.message);
    template_id = mined.template_id;
    if (mined.is_new_template) {
      impl.on_new_template(line, template_id, sink);
    }
  }
  if (!impl.matcher || !line.may_match) {
    return template_id;
  }
  impl.matcher->match(line.text, *impl.matched);
  impl.counters.scan_errors = impl.matcher->scan_errors();
  for (const std::uint32_t index : impl.matched->indices()) {
    RuleState& state = impl.rules[index];
    if (source_admitted(state.rule, line.source)) {
      impl.on_match(state, line, template_id, sink);
    }
  }
  return template_id;
}

void LogRules::tick(std::int64_t t_ms, LogSink& sink) {
  for (RuleState& state : m_impl->rules) {
    if (state.window.advance(t_ms) == WindowChange::clear) {
      m_impl->emit(state, LogSignalKind::clear, t_ms, sink);
    }
  }
}

void LogRules::Impl::on_new_template(const LogLine& line, std::uint32_t template_id,
                                     LogSink& sink) {
  if (!options.new_error_templates) {
    return;
  }
  const bool error =
      line.priority >= 0
          ? line.priority <= 3
          : error_level != nullptr &&
                RE2::PartialMatch(re2::StringPiece(line.text.data(), line.text.size()),
                                  *error_level);
  if (!error) {
    return;
  }
  if (!burst_started || line.t_ms - burst_minute_start >= k_minute_ms ||
      line.t_ms < burst_minute_start) {
    burst_started = true;
    burst_minute_start = line.t_ms;
    burst_used = 0;
  }
  if (burst_used >= options.new_error_template_burst) {
    ++counters.new_error_templates_dropped;
    return;
  }
  ++burst_used;
  ++counters.new_error_templates;
  LogSignal signal;
  signal.kind = LogSignalKind::new_error_template;
  signal.count_in_window = 1;
  signal.template_id = template_id;
  signal.source = line.source;
  signal.line = cut_utf8(line.text, options.max_line_bytes);
  signal.t_ms = line.t_ms;
  sink.on_signal(signal);
}

void LogRules::Impl::on_match(RuleState& state, const LogLine& line, std::uint32_t template_id,
                              LogSink& sink) {
  ++counters.matches;
  const std::span<const LogLabel> labels =
      state.extractor.empty() ? std::span<const LogLabel>{} : state.extractor.extract(line.text);
  LogEvent event;
  event.rule_id = state.rule.id;
  event.template_id = template_id;
  event.source = line.source;
  event.line = cut_utf8(line.text, options.max_line_bytes);
  event.labels = labels;
  event.t_ms = line.t_ms;
  sink.on_event(event);

  if (state.window.advance(line.t_ms) == WindowChange::clear) {
    emit(state, LogSignalKind::clear, line.t_ms, sink);
  }
  if (state.window.count() == 0 && !state.window.firing()) {
    state.first.assign(line.source, line.text, template_id, labels);
  }
  if (state.window.record(line.t_ms) == WindowChange::fire) {
    ++counters.fires;
    emit(state, LogSignalKind::fire, line.t_ms, sink);
  }
}

void LogRules::Impl::emit(RuleState& state, LogSignalKind kind, std::int64_t t_ms,
                          LogSink& sink) const {
  LogSignal signal;
  signal.rule_id = state.rule.id;
  signal.kind = kind;
  signal.count_in_window = state.window.count();
  signal.template_id = state.first.template_id();
  signal.source = state.first.source();
  signal.line = state.first.line();
  signal.labels = state.first.labels();
  signal.t_ms = t_ms;
  sink.on_signal(signal);
}

const LogRuleCounters& LogRules::counters() const noexcept {
  return m_impl->counters;
}

bool LogRules::firing(std::uint32_t rule_id) const noexcept {
  for (const RuleState& state : m_impl->rules) {
    if (state.rule.id == rule_id) {
      return state.window.firing();
    }
  }
  return false;
}

const logs::TemplateMiner* LogRules::miner() const noexcept {
  return m_impl->miner ? &*m_impl->miner : nullptr;
}

std::string_view to_string(LogSignalKind kind) noexcept {
  switch (kind) {
  case LogSignalKind::fire: return "fire";
  case LogSignalKind::clear: return "clear";
  case LogSignalKind::new_error_template: return "new_error_template";
  }
  return "unknown";
}

} // namespace medic::agent::detect
