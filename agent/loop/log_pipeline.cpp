// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/log_pipeline.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include <hs/hs.h>
#include <spdlog/spdlog.h>

#include "agent/detect/metric_rules.hpp"
#include "agent/tail/cursor_store.hpp"

namespace medic::agent::loop {

namespace {

constexpr std::string_view k_new_template_rule = "new-error-template";
constexpr std::size_t k_max_labels = 12;
// Match ends kept per chunk scan; past them, every later line of the chunk goes to the rules.
constexpr std::size_t k_max_block_matches = 4096;

bool digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// "Nov 23 01:02:03 " (15 characters and a space) or "2026-11-23T01:02:03..." up to a space.
std::size_t timestamp_end(std::string_view line) noexcept {
  if (line.size() > 16 && std::isupper(static_cast<unsigned char>(line[0])) != 0 &&
      line[3] == ' ' && line[9] == ':' && line[12] == ':' && line[15] == ' ') {
    return 16;
  }
  if (line.size() > 20 && digit(line[0]) && digit(line[3]) && line[4] == '-' && line[7] == '-' &&
      (line[10] == 'T' || line[10] == ' ')) {
    const auto space = line.find(' ', 11);
    return space == std::string_view::npos ? 0 : space + 1;
  }
  return 0;
}

// Patterns whose meaning changes when the text around a line is the rest of a chunk: \A, \z and
// \Z (start and end of the whole text), and inline flags turned off ("(?-m)", "(?i-s:").
bool block_safe(std::string_view pattern) noexcept {
  for (const std::string_view anchor : {"\\A", "\\z", "\\Z"}) {
    if (pattern.find(anchor) != std::string_view::npos) {
      return false;
    }
  }
  for (auto at = pattern.find("(?"); at != std::string_view::npos;
       at = pattern.find("(?", at + 2)) {
    const auto flags_end = pattern.find_first_not_of("imsU", at + 2);
    if (flags_end != std::string_view::npos && pattern[flags_end] == '-') {
      return false;
    }
  }
  return true;
}

} // namespace

std::unique_ptr<LinePrefilter> LinePrefilter::create(
    const std::vector<config::LogRuleConfig>& rules) {
  std::vector<detect::LogPattern> patterns;
  for (const auto& rule : rules) {
    if (!block_safe(rule.pattern)) {
      return nullptr;
    }
    patterns.push_back(
        {static_cast<std::uint32_t>(patterns.size()), rule.pattern, rule.ignore_case});
  }
  if (patterns.empty()) {
    return nullptr;
  }
  auto database = detect::compile_block_database(patterns);
  hs_scratch_t* scratch = nullptr;
  if (!database || hs_alloc_scratch(database->get(), &scratch) != HS_SUCCESS) {
    return nullptr;
  }
  return std::unique_ptr<LinePrefilter>(new LinePrefilter(std::move(*database), scratch));
}

LinePrefilter::LinePrefilter(detect::BlockDatabase database, hs_scratch* scratch)
    : m_database(std::move(database)), m_scratch(scratch) {
  m_ends.reserve(k_max_block_matches);
}

LinePrefilter::~LinePrefilter() {
  hs_free_scratch(m_scratch);
}

void LinePrefilter::scan(std::string_view chunk) noexcept {
  m_base = reinterpret_cast<std::uintptr_t>(chunk.data());
  m_ends.clear();
  m_next = 0;
  m_give_up_at = UINT64_MAX;
  const auto rc = hs_scan(m_database.get(), chunk.empty() ? "" : chunk.data(),
                          static_cast<unsigned int>(chunk.size()), 0, m_scratch, on_match, this);
  if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
    m_give_up_at = 0; // every line goes to the rules
  }
  if (!std::is_sorted(m_ends.begin(), m_ends.end())) {
    std::sort(m_ends.begin(), m_ends.end());
  }
}

bool LinePrefilter::may_match(std::string_view line) noexcept {
  const std::uint64_t start = reinterpret_cast<std::uintptr_t>(line.data()) - m_base;
  const std::uint64_t end = start + line.size();
  if (end + 1 >= m_give_up_at) {
    return true;
  }
  while (m_next < m_ends.size() && m_ends[m_next] <= start) {
    ++m_next;
  }
  return m_next < m_ends.size() && m_ends[m_next] <= end;
}

int LinePrefilter::on_match(unsigned int /*id*/, unsigned long long /*from*/, unsigned long long to,
                            unsigned int /*flags*/, void* context) {
  auto& self = *static_cast<LinePrefilter*>(context);
  if (!self.m_ends.empty() && self.m_ends.back() == to) {
    return 0;
  }
  if (self.m_ends.size() == k_max_block_matches) {
    self.m_give_up_at = to; // from here on every line may match: stop scanning
    return 1;
  }
  self.m_ends.push_back(static_cast<std::uint32_t>(to));
  return 0;
}

std::string_view log_message(std::string_view line) noexcept {
  const std::size_t start = timestamp_end(line);
  if (start == 0) {
    return line;
  }
  // After the stamp: "host tag[pid]: message". The tag ends at the first ": " within 64 bytes.
  const std::string_view rest = line.substr(start);
  const auto host_end = rest.find(' ');
  if (host_end == std::string_view::npos) {
    return rest;
  }
  const std::string_view tagged = rest.substr(host_end + 1);
  const auto colon = tagged.substr(0, 64).find(": ");
  return colon == std::string_view::npos ? tagged : tagged.substr(colon + 2);
}

Result<std::unique_ptr<LogPipeline>> LogPipeline::create(uv_loop_t& loop,
                                                         const config::SensingConfig& config,
                                                         const Clock& clock, LogOutput output) {
  std::vector<detect::LogRule> rules;
  // Without log sources the rules could never see a line: compiling them would only cost
  // memory (the multi-pattern compiler alone touches megabytes).
  const bool any_source = !config.tail.sources.empty() || config.kernel_log;
  const std::size_t rule_count = any_source ? config.log_rules.size() : 0;
  for (std::size_t i = 0; i < rule_count; ++i) {
    const auto& rule = config.log_rules[i];
    rules.push_back({static_cast<std::uint32_t>(i + 1), rule.pattern, rule.ignore_case,
                     rule.sources, rule.count, rule.window.count(), rule.quiet.count()});
  }
  detect::LogRulesOptions options;
  options.mine_templates = config.mine_templates && any_source;
  options.new_error_templates = config.mine_templates && config.new_error_templates;
  auto compiled = detect::LogRules::create(std::move(rules), options);
  if (!compiled) {
    // LogRules names rules by number; say which configured rule that is.
    return fail(std::move(compiled).error().context("log_rules"));
  }
  std::unique_ptr<LogPipeline> pipeline(
      new LogPipeline(loop, config, clock, std::move(output), std::move(*compiled)));
  if (config.tail.sources.empty()) {
    return pipeline; // no files to follow: the rules see the kernel's log only, or stay idle
  }
  tail::TailCallbacks callbacks;
  LogPipeline* self = pipeline.get();
  callbacks.on_record = [self](const tail::TailRecord& record) { self->on_record(record); };
  callbacks.on_gap = [self](const tail::TailGap& gap) { self->on_gap(gap); };
  if (rule_count > 0) {
    // With mining on, every line is still mined; the prefilter spares the lines no rule can
    // match only the per-line match.
    pipeline->m_prefilter = LinePrefilter::create(config.log_rules);
    spdlog::debug("log rules: {}",
                  pipeline->m_prefilter ? "whole read chunks prefiltered" : "matched line by line");
  }
  callbacks.on_chunk = [self](std::string_view bytes) { self->on_chunk(bytes); };
  tail::TailerOptions tail_options = config.tail;
  tail_options.external_tick = true; // tick() below: no timer of its own
  auto tailer = tail::Tailer::create(loop, std::move(tail_options), std::move(callbacks));
  if (!tailer) {
    return fail(std::move(tailer).error().context("logs.sources"));
  }
  pipeline->m_tailer = std::move(*tailer);
  return pipeline;
}

LogPipeline::LogPipeline(uv_loop_t& loop, const config::SensingConfig& config, const Clock& clock,
                         LogOutput output, detect::LogRules rules)
    : m_loop(loop),
      m_kernel_wanted(config.kernel_log),
      m_kernel_path(config.kernel_log_path),
      m_rule_configs(config.log_rules),
      m_max_events(config.max_log_events_per_flush),
      m_clock(clock),
      m_output(std::move(output)),
      m_rules(std::move(rules)),
      m_mining(config.mine_templates) {
  if (!config.tail.sources.empty()) { // kept (and paid for) even when no one takes evidence
    m_context = std::make_unique<LogContext>(config.tail.sources, config.log_context,
                                             [this](protocol::Evidence evidence) {
                                               if (m_output.evidence) {
                                                 m_output.evidence(std::move(evidence));
                                               }
                                             });
  }
}

LogPipeline::~LogPipeline() {
  if (m_kernel) {
    m_kernel->stop();
  }
  if (m_tailer) { // not stop(): the evidence output may be gone already
    m_tailer->stop();
  }
}

Result<std::vector<tail::TailCursor>> LogPipeline::load_cursors(sqlite::Database& db) {
  if (auto made = tail::cursor_store::ensure_schema(db); !made) {
    return fail(std::move(made).error());
  }
  return tail::cursor_store::load(db);
}

Result<void> LogPipeline::restore(std::span<const tail::TailCursor> cursors) {
  std::vector<tail::TailCursor> files;
  files.reserve(cursors.size());
  for (const auto& cursor : cursors) {
    if (cursor.path == m_kernel_path) {
      m_kernel_resume = tail::KmsgCursor{cursor.device, cursor.offset};
    } else {
      files.push_back(cursor);
    }
  }
  return m_tailer ? m_tailer->restore(files) : Result<void>{};
}

Result<void> LogPipeline::start() {
  if (m_tailer) {
    if (auto started = m_tailer->start(); !started) {
      return started;
    }
  }
  if (m_kernel_wanted) {
    tail::KmsgCallbacks callbacks;
    callbacks.on_record = [this](const tail::KmsgRecord& record, std::string_view text) {
      on_kernel_record(record, text);
    };
    callbacks.on_gap = [this](std::uint64_t first_seq, std::uint64_t count) {
      on_kernel_gap(first_seq, count);
    };
    auto source =
        tail::KmsgSource::open(m_loop, m_kernel_path, m_kernel_resume, std::move(callbacks));
    if (source) {
      m_kernel = std::move(*source);
    } else {
      // A container has no /dev/kmsg, and kernel.dmesg_restrict hides it from an agent without
      // CAP_SYSLOG: the host's other signals still matter, so go on without it.
      spdlog::warn("logs.kernel: {}; kernel messages are not followed", source.error().message());
    }
  }
  return {};
}

void LogPipeline::stop() noexcept {
  if (m_kernel) {
    m_kernel->stop();
  }
  if (m_tailer) {
    m_tailer->stop();
  }
  if (m_context) {
    m_context->flush();
  }
}

void LogPipeline::tick() noexcept {
  if (m_tailer) {
    m_tailer->tick();
  }
  m_rules.tick(m_clock.monotonic_ms(), *this);
  if (m_context) {
    m_context->tick(m_clock.monotonic_ms());
  }
}

const tail::TailStats* LogPipeline::tail_stats() const noexcept {
  return m_tailer ? &m_tailer->stats() : nullptr;
}

const detect::LogRuleCounters& LogPipeline::rule_counters() const noexcept {
  return m_rules.counters();
}

LogPipeline::Progress LogPipeline::progress() const noexcept {
  Progress now{0, 0};
  if (m_tailer) {
    const auto& stats = m_tailer->stats();
    now.records = stats.records;
    now.moves = stats.gaps + stats.rotations + stats.truncations;
  }
  if (m_kernel) {
    now.records += m_kernel->stats().records;
    now.moves += m_kernel->stats().lost;
  }
  return now;
}

std::optional<std::vector<tail::TailCursor>> LogPipeline::cursors_if_moved() const {
  if ((!m_tailer && !m_kernel) || progress() == m_saved_progress) {
    return std::nullopt;
  }
  std::vector<tail::TailCursor> cursors =
      m_tailer ? m_tailer->cursors() : std::vector<tail::TailCursor>{};
  if (const auto kernel = m_kernel ? m_kernel->cursor() : std::nullopt) {
    cursors.push_back({m_kernel_path, kernel->boot, 0, kernel->next_seq, 0});
  }
  return cursors;
}

void LogPipeline::on_chunk(std::string_view bytes) noexcept {
  m_chunk = bytes;
  if (bytes.empty()) {
    return;
  }
  m_chunk_t_ms = m_clock.monotonic_ms(); // one reading for all the chunk's lines
  if (m_prefilter) {
    m_prefilter->scan(bytes);
  }
}

bool LogPipeline::in_chunk(std::string_view text) const noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(m_chunk.data());
  const auto at = reinterpret_cast<std::uintptr_t>(text.data());
  return !m_chunk.empty() && at >= begin && at + text.size() < begin + m_chunk.size() &&
         text.data()[text.size()] == '\n';
}

void LogPipeline::on_record(const tail::TailRecord& record) noexcept {
  if (m_context) {
    m_context->on_line(record); // every line: the context of a later firing line
  }
  const bool chunk_line = in_chunk(record.text);
  const bool may_match = !m_prefilter || !chunk_line || m_prefilter->may_match(record.text);
  if (!may_match) {
    ++m_counters.lines_prefiltered;
    if (!m_mining) {
      return;
    }
  }
  m_record = &record;
  detect::LogLine line;
  line.source = record.source_name;
  line.text = record.text;
  line.message = m_mining ? log_message(record.text) : std::string_view{};
  line.t_ms = chunk_line ? m_chunk_t_ms : m_clock.monotonic_ms();
  line.may_match = may_match;
  m_rules.process(line, *this);
  m_record = nullptr;
}

// A kernel record goes through the rules as a line does, with the level the kernel gave it (an
// error-level new template is one at level 3 or more urgent, whatever its words).
void LogPipeline::on_kernel_record(const tail::KmsgRecord& record, std::string_view text) noexcept {
  tail::TailRecord line_record;
  line_record.source_name = config::k_kernel_source;
  line_record.path = m_kernel_path;
  line_record.text = text;
  line_record.offset = record.seq;
  line_record.end_offset = record.seq + 1;
  m_record = &line_record;
  detect::LogLine line;
  line.source = config::k_kernel_source;
  line.text = text;
  line.message = m_mining ? text : std::string_view{};
  line.priority = record.level;
  line.t_ms = m_clock.monotonic_ms();
  m_rules.process(line, *this);
  m_record = nullptr;
}

void LogPipeline::on_kernel_gap(std::uint64_t first_seq, std::uint64_t count) noexcept {
  ++m_counters.gaps;
  const std::string text =
      std::to_string(count) + " kernel log records overwritten before they were read";
  protocol::LogEventView event;
  event.kind = protocol::LogEventKind::gap;
  event.source = config::k_kernel_source;
  event.path = m_kernel_path;
  event.time_ms = m_clock.now_unix_ms();
  event.offset = first_seq;
  event.text = text;
  spdlog::warn("{}: {} (from sequence number {})", m_kernel_path, text, first_seq);
  m_output.event(event);
}

void LogPipeline::on_gap(const tail::TailGap& gap) noexcept {
  ++m_counters.gaps;
  protocol::LogEventView event;
  event.kind = protocol::LogEventKind::gap;
  event.source = gap.source_name;
  event.path = gap.path;
  event.time_ms = m_clock.now_unix_ms();
  event.offset = gap.offset;
  event.text = tail::to_string(gap.reason);
  event.gap_bytes = gap.bytes;
  spdlog::warn("log {}: {} bytes at offset {} could not be read ({})", gap.path, gap.bytes,
               gap.offset, tail::to_string(gap.reason));
  m_output.event(event);
}

void LogPipeline::on_signal(const detect::LogSignal& signal) noexcept {
  ++m_counters.signals;
  const bool new_template = signal.kind == detect::LogSignalKind::new_error_template;
  const config::LogRuleConfig* rule =
      new_template || signal.rule_id == 0 || signal.rule_id > m_rule_configs.size()
          ? nullptr
          : &m_rule_configs[signal.rule_id - 1];
  if (!new_template && rule == nullptr) {
    return;
  }
  std::array<protocol::LabelView, k_max_labels> labels{};
  std::size_t count = 0;
  labels[count++] = {"source", signal.source};
  const std::string template_text = std::to_string(signal.template_id);
  if (new_template) {
    labels[count++] = {"template", template_text};
  }
  // The fingerprint pairs a clear with its fire: rule and source (and the template) only.
  const std::string fingerprint =
      detect::fingerprint(new_template ? k_new_template_rule : std::string_view(rule->id),
                          std::span<const protocol::LabelView>(labels.data(), count));
  for (const auto& label : signal.labels) {
    if (count < labels.size()) {
      labels[count++] = {label.name, label.value};
    }
  }
  protocol::SignalView view;
  view.rule = new_template ? k_new_template_rule : std::string_view(rule->id);
  view.state = signal.kind == detect::LogSignalKind::clear ? protocol::SignalState::cleared
                                                           : protocol::SignalState::firing;
  view.severity = new_template ? protocol::Severity::medium : rule->severity;
  view.category = new_template ? protocol::Category::integration : rule->category;
  view.fingerprint = fingerprint;
  view.value = signal.count_in_window;
  view.time_ms = m_clock.now_unix_ms();
  view.labels = std::span<const protocol::LabelView>(labels.data(), count);
  view.message = signal.line;
  m_output.signal(view);
  if (m_context && view.state == protocol::SignalState::firing) {
    m_context->on_fire(m_record, signal.source, fingerprint, view.rule, view.time_ms,
                       m_clock.monotonic_ms());
  }
  if (new_template) {
    // The state is a one-off: clear it at once so the coordinator sees a complete episode.
    view.state = protocol::SignalState::cleared;
    m_output.signal(view);
  }
}

void LogPipeline::on_event(const detect::LogEvent& event) noexcept {
  if (m_events_this_flush >= m_max_events || event.rule_id == 0 ||
      event.rule_id > m_rule_configs.size()) {
    ++m_counters.events_suppressed;
    return;
  }
  ++m_events_this_flush;
  ++m_counters.events;
  std::array<protocol::LabelView, k_max_labels> labels{};
  std::size_t count = 0;
  for (const auto& label : event.labels) {
    if (count < labels.size()) {
      labels[count++] = {label.name, label.value};
    }
  }
  protocol::LogEventView view;
  view.source = event.source;
  view.path = m_record != nullptr ? m_record->path : std::string_view();
  view.time_ms = m_clock.now_unix_ms();
  view.offset = m_record != nullptr ? m_record->offset : 0;
  view.text = event.line;
  view.rule = m_rule_configs[event.rule_id - 1].id;
  if (event.template_id != 0) {
    view.template_id = event.template_id;
  }
  view.labels = std::span<const protocol::LabelView>(labels.data(), count);
  m_output.event(view);
}

} // namespace medic::agent::loop
