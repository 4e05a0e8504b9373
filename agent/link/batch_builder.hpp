// SPDX-License-Identifier: Apache-2.0
// The batch being filled on the loop: samples (with labels), signals and log events. Every
// string is copied into arenas sized at construction, so adding never allocates and callers'
// strings need only live during the call. Samples and events fill and flush separately: the
// agent spools them as separate batches so that the spool drops samples before events.
// Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/message.hpp"

namespace medic::agent::link {

// Copies strings into one fixed buffer until it is full. The buffer is not cleared: only the bytes
// a batch copies in ever become resident (a 96 KiB event arena mostly unused stays untouched).
class TextArena {
public:
  explicit TextArena(std::size_t capacity)
      : m_data(std::make_unique_for_overwrite<char[]>(capacity)), m_capacity(capacity) {}
  // The copy, or false when it does not fit (nothing is copied then).
  [[nodiscard]] bool copy(std::string_view text, std::string_view& out) noexcept;
  [[nodiscard]] std::size_t free() const noexcept { return m_capacity - m_used; }
  void clear() noexcept { m_used = 0; }

private:
  std::unique_ptr<char[]> m_data;
  std::size_t m_capacity;
  std::size_t m_used = 0;
};

struct BatchLimits {
  std::size_t max_samples = 500;
  std::size_t max_events = 200;               // signals and log events together
  std::size_t max_event_text_bytes = 1024;    // a log record or signal message is cut here
  std::size_t sample_arena_bytes = 32 * 1024; // names and labels of the samples
  std::size_t event_arena_bytes = 96 * 1024;  // strings of signals and log events
  std::size_t max_labels_per_item = 16;       // more labels are dropped (counted)
};

class BatchBuilder {
public:
  explicit BatchBuilder(const BatchLimits& limits);

  // False when the samples part is full (count or arena): flush samples and add again.
  [[nodiscard]] bool add_sample(std::string_view name, double value, std::int64_t time_ms,
                                std::span<const protocol::LabelView> labels = {}) noexcept;
  // False when the events part is full: flush events and add again. Text longer than
  // max_event_text_bytes is cut at a UTF-8 character boundary.
  [[nodiscard]] bool add_signal(const protocol::SignalView& signal) noexcept;
  [[nodiscard]] bool add_log(const protocol::LogEventView& event) noexcept;

  // Action outcomes, budgets and diagnostic evidence travel with the events. They are rare
  // (one per action), so they are owned values; false when the part is full (flush events).
  [[nodiscard]] bool add_result(protocol::CommandResult result);
  [[nodiscard]] bool add_budget(protocol::BudgetReport budget);
  [[nodiscard]] bool add_evidence(protocol::Evidence evidence);
  [[nodiscard]] protocol::BatchView samples_batch() const noexcept;
  [[nodiscard]] protocol::BatchView events_batch() const noexcept;
  [[nodiscard]] bool samples_empty() const noexcept { return m_samples.empty(); }
  [[nodiscard]] bool events_empty() const noexcept {
    return m_signals.empty() && m_logs.empty() && m_results.empty() && m_budgets.empty() &&
           m_evidence.empty();
  }
  [[nodiscard]] std::size_t sample_count() const noexcept { return m_samples.size(); }
  void clear_samples() noexcept;
  void clear_events() noexcept;

  // Labels beyond max_labels_per_item, and items that could never fit an empty arena.
  [[nodiscard]] std::uint64_t labels_dropped() const noexcept { return m_labels_dropped; }
  [[nodiscard]] std::uint64_t items_refused() const noexcept { return m_items_refused; }

private:
  [[nodiscard]] bool copy_labels(TextArena& arena, std::vector<protocol::LabelView>& store,
                                 std::span<const protocol::LabelView> labels,
                                 std::span<const protocol::LabelView>& out) noexcept;
  [[nodiscard]] bool events_full() const noexcept;

  BatchLimits m_limits;
  TextArena m_sample_text;
  TextArena m_event_text;
  std::vector<protocol::SampleView> m_samples;
  std::vector<protocol::LabelView> m_sample_labels;
  std::vector<protocol::SignalView> m_signals;
  std::vector<protocol::LogEventView> m_logs;
  std::vector<protocol::LabelView> m_event_labels;
  std::vector<protocol::CommandResult> m_results;
  std::vector<protocol::BudgetReport> m_budgets;
  std::vector<protocol::Evidence> m_evidence;
  std::uint64_t m_labels_dropped = 0;
  std::uint64_t m_items_refused = 0;
};

// The longest prefix of `text` of at most `max_bytes` that does not end inside a UTF-8 sequence.
[[nodiscard]] std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept;

} // namespace medic::agent::link
