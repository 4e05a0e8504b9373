// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/sink.hpp"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "shared/clock.hpp"

namespace medic::coordinator::escalate {

namespace {

constexpr std::size_t k_max_sent_entries = 16'384; // dedupe memory before it is pruned

std::size_t hash_labels(const std::vector<protocol::Label>& labels) noexcept {
  std::size_t hash = labels.size();
  const std::hash<std::string> text_hash;
  for (const auto& label : labels) {
    hash = hash * 31 + text_hash(label.name);
    hash = hash * 31 + text_hash(label.value);
  }
  return hash;
}

std::int64_t steady_ms() noexcept {
  return SystemClock().monotonic_ms();
}
std::int64_t unix_ms() noexcept {
  return SystemClock().now_unix_ms();
}

// 408 and 429 say "later"; any other 4xx says the request itself is wrong: retrying is useless.
bool permanent(long status) noexcept {
  return status >= 400 && status < 500 && status != 408 && status != 429;
}

template <class T>
void push_bounded(std::deque<T>& queue, T value, std::size_t capacity,
                  std::atomic<std::uint64_t>& dropped) {
  if (capacity == 0) {
    dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (queue.size() >= capacity) {
    queue.pop_front();
    dropped.fetch_add(1, std::memory_order_relaxed);
  }
  queue.push_back(std::move(value));
}

} // namespace

std::chrono::milliseconds full_jitter_backoff(std::uint32_t attempt,
                                              std::chrono::milliseconds initial,
                                              std::chrono::milliseconds cap,
                                              std::uint64_t random) noexcept {
  const auto shift = std::min<std::uint32_t>(attempt > 0 ? attempt - 1 : 0, 30);
  const std::int64_t base = std::max<std::int64_t>(initial.count(), 0);
  const std::int64_t limit = std::max<std::int64_t>(cap.count(), 0);
  // Compared before shifting: base << shift may not fit in 64 bits.
  const std::int64_t ceiling = base > (limit >> shift) ? limit : std::min(base << shift, limit);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(random % (static_cast<std::uint64_t>(ceiling) + 1)));
}

Sink::Sink(std::string name, std::unique_ptr<SinkFormat> format, DeliveryOptions options)
    : m_name(std::move(name)),
      m_format(std::move(format)),
      m_options(options),
      m_random(std::random_device{}()),
      m_worker([this] { run(); }) {}

Sink::~Sink() {
  stop();
}

void Sink::enqueue(Notification notification) {
  std::lock_guard lock(m_mutex);
  if (m_stopping) {
    return;
  }
  if (m_queue.size() >= m_options.queue_size) {
    DeliveryOutcome outcome{
        m_name,
        m_queue.front().incident_id,
        m_queue.front().state,
        false,
        false,
        0,
        0,
        "dropped: the queue of " + std::to_string(m_options.queue_size) + " notifications was full",
        unix_ms()};
    m_queue.pop_front();
    m_counters.dropped.fetch_add(1, std::memory_order_relaxed);
    push_outcome(std::move(outcome));
  }
  if (m_options.queue_size > 0) {
    m_queue.push_back(std::move(notification));
  }
  m_wake.notify_one();
}

void Sink::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  if (m_worker.joinable()) {
    m_worker.join();
  }
}

std::size_t Sink::queued() const {
  std::lock_guard lock(m_mutex);
  return m_queue.size();
}

SinkCounters Sink::counters() const noexcept {
  const auto get = [](const std::atomic<std::uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  return {get(m_counters.sent),    get(m_counters.failed),       get(m_counters.retried),
          get(m_counters.dropped), get(m_counters.deduplicated), get(m_counters.reposted)};
}

std::vector<DeliveryOutcome> Sink::failed_deliveries() const {
  std::lock_guard lock(m_outcome_mutex);
  return {m_failed.begin(), m_failed.end()};
}

std::vector<DeliveryOutcome> Sink::drain_outcomes() {
  std::lock_guard lock(m_outcome_mutex);
  std::vector<DeliveryOutcome> drained(std::make_move_iterator(m_outcomes.begin()),
                                       std::make_move_iterator(m_outcomes.end()));
  m_outcomes.clear();
  return drained;
}

void Sink::push_outcome(DeliveryOutcome outcome) {
  std::lock_guard lock(m_outcome_mutex);
  if (!outcome.delivered) {
    std::atomic<std::uint64_t> ignored{0};
    push_bounded(m_failed, outcome, m_options.failed_kept, ignored);
  }
  push_bounded(m_outcomes, std::move(outcome), m_options.outcomes_kept, m_outcomes_dropped);
}

void Sink::run() noexcept {
  try {
    HttpClient client;
    std::vector<Notification> batch;
    for (;;) {
      bool repost_due = false;
      if (!take(batch, repost_due)) {
        break;
      }
      keep_new(batch);
      if (!batch.empty()) {
        track_open(batch);
        deliver(client, batch, false);
      }
      if (repost_due) {
        repost_open(client);
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("escalation sink '{}': worker stopped: {}", m_name, e.what());
  }
  std::lock_guard lock(m_mutex);
  m_counters.dropped.fetch_add(m_queue.size(), std::memory_order_relaxed);
  m_queue.clear();
}

// Waits for work; false when stopping. Takes at most max_batch notifications.
bool Sink::take(std::vector<Notification>& batch, bool& repost_due) {
  batch.clear();
  std::unique_lock lock(m_mutex);
  const bool reposting = m_format->reposts_firing() && !m_open.empty();
  const auto ready = [this] { return m_stopping || !m_queue.empty(); };
  if (reposting) {
    const auto wait =
        std::chrono::milliseconds(std::max<std::int64_t>(m_next_repost_ms - steady_ms(), 0));
    m_wake.wait_for(lock, wait, ready);
  } else {
    m_wake.wait(lock, ready);
  }
  if (m_stopping) {
    return false;
  }
  const std::size_t count =
      std::min(m_queue.size(), std::max<std::size_t>(m_format->max_batch(), 1));
  for (std::size_t i = 0; i < count; ++i) {
    batch.push_back(std::move(m_queue.front()));
    m_queue.pop_front();
  }
  repost_due = reposting && steady_ms() >= m_next_repost_ms;
  return true;
}

// Drops what was sent with the same state within repeat_interval; remembers the rest as sent
// (whether or not delivery works: a failing receiver gets the retry budget, not a storm).
void Sink::keep_new(std::vector<Notification>& batch) {
  const std::int64_t now = steady_ms();
  const std::int64_t window = m_options.repeat_interval.count();
  if (m_sent.size() > k_max_sent_entries) {
    std::erase_if(m_sent, [&](const auto& entry) { return now - entry.second.at_ms >= window; });
    if (m_sent.size() > k_max_sent_entries) {
      m_sent.clear(); // only dedupe is lost, never a notification
    }
  }
  std::erase_if(batch, [&](const Notification& n) {
    const Sent sent{n.state, hash_labels(n.labels), now};
    auto [it, inserted] = m_sent.try_emplace(n.incident_id, sent);
    if (!inserted && it->second.state == n.state && it->second.labels_hash == sent.labels_hash &&
        now - it->second.at_ms < window) {
      m_counters.deduplicated.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    it->second = sent;
    return false;
  });
}

// Remembers firing alerts for re-posting. When an open alert's labels changed (its severity
// worsened), the old label set is resolved in the same request, or it would linger.
void Sink::track_open(std::vector<Notification>& batch) {
  if (!m_format->reposts_firing()) {
    return;
  }
  const bool was_empty = m_open.empty();
  const std::size_t count = batch.size();
  for (std::size_t i = 0; i < count; ++i) {
    const auto it = m_open.find(batch[i].incident_id);
    if (batch[i].state == NotificationState::resolved) {
      if (it != m_open.end()) {
        m_open.erase(it);
      }
      continue;
    }
    if (it != m_open.end() && it->second.labels != batch[i].labels) {
      Notification old = std::move(it->second);
      old.state = NotificationState::resolved;
      batch.push_back(std::move(old));
    }
    m_open.insert_or_assign(batch[i].incident_id, batch[i]);
    if (m_open.size() > m_options.max_open_alerts) {
      m_open.erase(m_open.begin()); // the oldest incident stops being re-posted
    }
  }
  if (was_empty && !m_open.empty()) {
    m_next_repost_ms = steady_ms() + repost_period_ms();
  }
}

void Sink::repost_open(HttpClient& client) {
  std::vector<Notification> batch;
  const std::size_t limit = std::max<std::size_t>(m_format->max_batch(), 1);
  for (const auto& [id, notification] : m_open) {
    batch.push_back(notification);
    if (batch.size() == limit) {
      deliver(client, batch, true);
      batch.clear();
    }
  }
  if (!batch.empty()) {
    deliver(client, batch, true);
  }
  m_next_repost_ms = steady_ms() + repost_period_ms();
}

// Never a busy loop, whatever a test or a caller sets.
std::int64_t Sink::repost_period_ms() const noexcept {
  return std::max<std::int64_t>(m_options.repeat_interval.count(), 100);
}

void Sink::deliver(HttpClient& client, std::span<const Notification> batch, bool repost) {
  DeliveryOutcome outcome;
  outcome.sink = m_name;
  outcome.repost = repost;
  auto request = m_format->format(batch, unix_ms());
  if (!request) {
    outcome.error = request.error().message();
    record(batch, outcome);
    return;
  }
  for (;;) {
    ++outcome.attempts;
    auto response = client.post(*request, m_options.timeouts, m_stopping);
    if (response && response->status >= 200 && response->status < 300) {
      outcome.delivered = true;
      outcome.http_status = response->status;
      outcome.error.clear();
      break;
    }
    outcome.http_status = response ? response->status : 0;
    outcome.error = response ? "HTTP " + std::to_string(response->status) + ": " + response->body
                             : response.error().message();
    if ((response && permanent(response->status)) || outcome.attempts >= m_options.max_attempts) {
      break;
    }
    m_counters.retried.fetch_add(1, std::memory_order_relaxed);
    if (!pause(full_jitter_backoff(outcome.attempts, m_options.initial_backoff,
                                   m_options.max_backoff, m_random()))) {
      outcome.error += " (stopping)";
      break;
    }
  }
  record(batch, outcome);
}

// Sleeps on the worker until `delay` passed (true) or stop() was called (false).
bool Sink::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(m_mutex);
  return !m_wake.wait_for(lock, delay, [this] { return m_stopping.load(); });
}

void Sink::record(std::span<const Notification> batch, const DeliveryOutcome& outcome) {
  auto& counter = outcome.delivered ? (outcome.repost ? m_counters.reposted : m_counters.sent)
                                    : m_counters.failed;
  counter.fetch_add(batch.size(), std::memory_order_relaxed);
  if (!outcome.delivered) {
    spdlog::warn("escalation sink '{}': {} notification(s) not delivered after {} attempt(s): {}",
                 m_name, batch.size(), outcome.attempts, outcome.error);
  }
  if (outcome.repost && outcome.delivered) {
    return; // a re-post that worked is no news for the audit trail
  }
  const std::int64_t now = unix_ms();
  for (const auto& notification : batch) {
    DeliveryOutcome one = outcome;
    one.incident_id = notification.incident_id;
    one.state = notification.state;
    one.time_ms = now;
    push_outcome(std::move(one));
  }
}

} // namespace medic::coordinator::escalate
