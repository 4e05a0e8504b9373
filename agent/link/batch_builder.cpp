// SPDX-License-Identifier: Apache-2.0
#include "agent/link/batch_builder.hpp"

#include <algorithm>
#include <cstring>

namespace medic::agent::link {

bool TextArena::copy(std::string_view text, std::string_view& out) noexcept {
  if (text.size() > free()) {
    return false;
  }
  char* at = m_data.get() + m_used;
  if (!text.empty()) {
    std::memcpy(at, text.data(), text.size());
  }
  m_used += text.size();
  out = std::string_view(at, text.size());
  return true;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept {
  if (text.size() <= max_bytes) {
    return text;
  }
  std::size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

BatchBuilder::BatchBuilder(const BatchLimits& limits)
    : m_limits(limits),
      m_sample_text(limits.sample_arena_bytes),
      m_event_text(limits.event_arena_bytes) {
  m_samples.reserve(limits.max_samples);
  m_sample_labels.reserve(limits.max_samples * 2);
  m_signals.reserve(limits.max_events);
  m_logs.reserve(limits.max_events);
  m_event_labels.reserve(limits.max_events * 4);
}

bool BatchBuilder::copy_labels(TextArena& arena, std::vector<protocol::LabelView>& store,
                               std::span<const protocol::LabelView> labels,
                               std::span<const protocol::LabelView>& out) noexcept {
  const std::size_t count = std::min(labels.size(), m_limits.max_labels_per_item);
  if (store.size() + count > store.capacity()) {
    return false;
  }
  const std::size_t first = store.size();
  for (std::size_t i = 0; i < count; ++i) {
    protocol::LabelView copy;
    if (!arena.copy(labels[i].name, copy.name) || !arena.copy(labels[i].value, copy.value)) {
      store.resize(first);
      return false;
    }
    store.push_back(copy);
  }
  m_labels_dropped += labels.size() - count;
  out = std::span<const protocol::LabelView>(store.data() + first, count);
  return true;
}

bool BatchBuilder::add_sample(std::string_view name, double value, std::int64_t time_ms,
                              std::span<const protocol::LabelView> labels) noexcept {
  if (m_samples.size() >= m_limits.max_samples) {
    return false;
  }
  protocol::SampleView sample{{}, value, time_ms, {}};
  if (!m_sample_text.copy(name, sample.name) ||
      !copy_labels(m_sample_text, m_sample_labels, labels, sample.labels)) {
    if (m_samples.empty()) {
      ++m_items_refused; // would not fit even an empty batch: drop it, or the caller loops
      clear_samples();
      return true;
    }
    return false;
  }
  m_samples.push_back(sample);
  return true;
}

bool BatchBuilder::events_full() const noexcept {
  return m_signals.size() + m_logs.size() >= m_limits.max_events;
}

bool BatchBuilder::add_signal(const protocol::SignalView& signal) noexcept {
  if (events_full()) {
    return false;
  }
  protocol::SignalView copy = signal;
  const auto message = utf8_prefix(signal.message, m_limits.max_event_text_bytes);
  if (!m_event_text.copy(signal.rule, copy.rule) ||
      !m_event_text.copy(signal.fingerprint, copy.fingerprint) ||
      !m_event_text.copy(message, copy.message) ||
      !copy_labels(m_event_text, m_event_labels, signal.labels, copy.labels)) {
    if (events_empty()) {
      ++m_items_refused;
      clear_events();
      return true;
    }
    return false;
  }
  m_signals.push_back(copy);
  return true;
}

bool BatchBuilder::add_log(const protocol::LogEventView& event) noexcept {
  if (events_full()) {
    return false;
  }
  protocol::LogEventView copy = event;
  const auto text = utf8_prefix(event.text, m_limits.max_event_text_bytes);
  if (!m_event_text.copy(event.source, copy.source) ||
      !m_event_text.copy(utf8_prefix(event.path, protocol::Limits::k_max_path_bytes), copy.path) ||
      !m_event_text.copy(text, copy.text) || !m_event_text.copy(event.rule, copy.rule) ||
      !copy_labels(m_event_text, m_event_labels, event.labels, copy.labels)) {
    if (events_empty()) {
      ++m_items_refused;
      clear_events();
      return true;
    }
    return false;
  }
  m_logs.push_back(copy);
  return true;
}

bool BatchBuilder::add_result(protocol::CommandResult result) {
  if (m_results.size() >= protocol::Limits::k_max_results) {
    return false;
  }
  m_results.push_back(std::move(result));
  return true;
}

bool BatchBuilder::add_budget(protocol::BudgetReport budget) {
  if (m_budgets.size() >= protocol::Limits::k_max_budgets) {
    return false;
  }
  m_budgets.push_back(std::move(budget));
  return true;
}

bool BatchBuilder::add_evidence(protocol::Evidence evidence) {
  if (m_evidence.size() >= protocol::Limits::k_max_evidence) {
    return false;
  }
  m_evidence.push_back(std::move(evidence));
  return true;
}

protocol::BatchView BatchBuilder::samples_batch() const noexcept {
  protocol::BatchView view;
  view.samples = m_samples;
  return view;
}

protocol::BatchView BatchBuilder::events_batch() const noexcept {
  protocol::BatchView view;
  view.signals = m_signals;
  view.logs = m_logs;
  view.results = m_results;
  view.budgets = m_budgets;
  view.evidence = m_evidence;
  return view;
}

void BatchBuilder::clear_samples() noexcept {
  m_samples.clear();
  m_sample_labels.clear();
  m_sample_text.clear();
}

void BatchBuilder::clear_events() noexcept {
  m_signals.clear();
  m_logs.clear();
  m_event_labels.clear();
  m_event_text.clear();
  m_results.clear();
  m_budgets.clear();
  m_evidence.clear();
}

} // namespace medic::agent::link
