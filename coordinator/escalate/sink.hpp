// SPDX-License-Identifier: Apache-2.0
// An escalation sink: one worker thread that delivers notifications over HTTP from a bounded
// queue, so a slow or dead receiver never blocks the engine or the other sinks. It deduplicates
// (the same incident and state is not sent twice within the repeat interval), retries with capped
// exponential backoff and full jitter, keeps the deliveries that failed for good, counts what it
// did, and reports every outcome for the engine to audit. Alertmanager and webhook sinks differ
// only in their SinkFormat (alertmanager_sink.hpp, webhook_sink.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "coordinator/escalate/http_client.hpp"
#include "coordinator/escalate/notification.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::escalate {

struct DeliveryOptions {
  HttpTimeouts timeouts;                              // per request: connect 2 s, total 5 s
  std::chrono::milliseconds repeat_interval{120'000}; // dedupe window; firing re-post period
  std::uint32_t queue_size = 1024;                    // notifications waiting per sink
  std::uint32_t max_attempts = 5;                     // per delivery, the first included
  std::chrono::milliseconds initial_backoff{500};     // before the first retry (at most)
  std::chrono::milliseconds max_backoff{30'000};      // cap of the exponential growth
  std::uint32_t failed_kept = 100;                    // failed deliveries kept for people
  std::uint32_t outcomes_kept = 1024;                 // outcomes waiting for drain_outcomes()
  std::uint32_t max_open_alerts = 10'000;             // firing alerts tracked for re-posting
};

struct SinkCounters {
  std::uint64_t sent = 0;         // notifications delivered (re-posts not included)
  std::uint64_t failed = 0;       // notifications given up on after the retry budget
  std::uint64_t retried = 0;      // requests retried after a failed attempt
  std::uint64_t dropped = 0;      // thrown away: queue full, or still queued at stop()
  std::uint64_t deduplicated = 0; // not sent: same incident and state within repeat_interval
  std::uint64_t reposted = 0;     // firing alerts re-posted so the receiver keeps them
};

// What became of one notification; also the element of the failed-deliveries list.
struct DeliveryOutcome {
  std::string sink;
  correlate::IncidentId incident_id = 0;
  NotificationState state = NotificationState::firing;
  bool delivered = false;
  bool repost = false;
  std::uint32_t attempts = 0;
  long http_status = 0; // the last response's, 0 when there was none
  std::string error;    // why it failed; empty when delivered
  std::int64_t time_ms = 0;
};

// Turns a batch of notifications into one request. Called on the sink's worker thread only.
class SinkFormat {
public:
  virtual ~SinkFormat() = default;
  [[nodiscard]] virtual std::size_t max_batch() const noexcept = 0;
  // True: firing alerts are re-posted every repeat_interval until resolved (Alertmanager).
  [[nodiscard]] virtual bool reposts_firing() const noexcept = 0;
  [[nodiscard]] virtual Result<HttpRequest> format(std::span<const Notification> batch,
                                                   std::int64_t now_ms) const = 0;
};

// Full jitter: uniform in [0, min(cap, initial * 2^(attempt-1))]. `random` is any 64-bit value.
[[nodiscard]] std::chrono::milliseconds full_jitter_backoff(std::uint32_t attempt,
                                                            std::chrono::milliseconds initial,
                                                            std::chrono::milliseconds cap,
                                                            std::uint64_t random) noexcept;

class Sink {
public:
  // Starts the worker thread.
  Sink(std::string name, std::unique_ptr<SinkFormat> format, DeliveryOptions options);
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  virtual ~Sink(); // stop()

  [[nodiscard]] const std::string& name() const noexcept { return m_name; }

  // Any thread; never blocks on the network. A full queue drops its oldest (counted, and
  // reported as an outcome). Ignored after stop().
  void enqueue(Notification notification);

  // Any thread; idempotent. Cancels the request in flight (libcurl's next progress call, well
  // under a second), drops what is still queued (counted) and joins the worker.
  void stop();

  [[nodiscard]] SinkCounters counters() const noexcept;
  // Any thread: notifications waiting in the queue (for /metrics).
  [[nodiscard]] std::size_t queued() const;
  [[nodiscard]] std::vector<DeliveryOutcome> failed_deliveries() const; // oldest first
  [[nodiscard]] std::vector<DeliveryOutcome> drain_outcomes();          // oldest first
  [[nodiscard]] std::uint64_t outcomes_dropped() const noexcept { return m_outcomes_dropped; }

private:
  struct Sent {
    NotificationState state = NotificationState::firing;
    std::size_t labels_hash = 0; // changed labels (a worse severity) are news
    std::int64_t at_ms = 0;      // steady clock
  };

  void run() noexcept;
  [[nodiscard]] bool take(std::vector<Notification>& batch, bool& repost_due);
  void keep_new(std::vector<Notification>& batch);
  void track_open(std::vector<Notification>& batch);
  void repost_open(HttpClient& client);
  [[nodiscard]] std::int64_t repost_period_ms() const noexcept;
  void deliver(HttpClient& client, std::span<const Notification> batch, bool repost);
  [[nodiscard]] bool pause(std::chrono::milliseconds delay);
  void record(std::span<const Notification> batch, const DeliveryOutcome& outcome);
  void push_outcome(DeliveryOutcome outcome);

  std::string m_name;
  std::unique_ptr<SinkFormat> m_format;
  DeliveryOptions m_options;

  mutable std::mutex m_mutex; // guards m_queue, m_stopping's waits
  std::condition_variable m_wake;
  std::deque<Notification> m_queue;
  std::atomic<bool> m_stopping{false};

  mutable std::mutex m_outcome_mutex; // guards m_outcomes, m_failed
  std::deque<DeliveryOutcome> m_outcomes;
  std::deque<DeliveryOutcome> m_failed;
  std::atomic<std::uint64_t> m_outcomes_dropped{0};

  struct AtomicCounters {
    std::atomic<std::uint64_t> sent{0}, failed{0}, retried{0}, dropped{0}, deduplicated{0},
        reposted{0};
  } m_counters;

  // Worker thread only.
  std::unordered_map<correlate::IncidentId, Sent> m_sent;
  std::map<correlate::IncidentId, Notification> m_open; // firing alerts to re-post
  std::int64_t m_next_repost_ms = 0;                    // steady clock
  std::mt19937_64 m_random;

  std::thread m_worker; // last: starts when everything above exists
};

} // namespace medic::coordinator::escalate
