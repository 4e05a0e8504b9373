// SPDX-License-Identifier: Apache-2.0
// The configured escalation sinks behind one front: the engine calls escalate() and resolve()
// from its loop (never blocking: each sink queues and delivers on its own thread) and
// drain_outcomes() to audit what was delivered or given up on.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/escalate/escalation_config.hpp"
#include "coordinator/escalate/notification.hpp"
#include "coordinator/escalate/sink.hpp"

namespace medic::coordinator::escalate {

struct SinkStatus {
  std::string name;
  SinkCounters counters;
  std::vector<DeliveryOutcome> failed; // the last failed deliveries, oldest first
  std::size_t queued = 0;              // notifications waiting in its queue
};

class Escalator {
public:
  // `labels` are added to every notification that does not have them already.
  explicit Escalator(std::vector<std::unique_ptr<Sink>> sinks,
                     std::map<std::string, std::string> labels = {});
  Escalator(const Escalator&) = delete;
  Escalator& operator=(const Escalator&) = delete;
  ~Escalator(); // stop()

  // Any thread. Sends the notification as firing to every sink.
  void escalate(Notification notification);
  // Any thread. Sends it as resolved (ends_at = now when 0) to every sink.
  void resolve(Notification notification);
  // Joins every sink's worker; each one is bounded by its request's cancellation (< 1 s).
  void stop();

  [[nodiscard]] bool has_sinks() const noexcept { return !m_sinks.empty(); }
  [[nodiscard]] std::vector<SinkStatus> status() const;
  // Any thread (the engine's loop): every sink's outcomes since the last call.
  [[nodiscard]] std::vector<DeliveryOutcome> drain_outcomes();

private:
  void send(Notification notification);

  std::vector<std::unique_ptr<Sink>> m_sinks;
  std::map<std::string, std::string> m_labels;
};

// One AlertmanagerSink per escalation.alertmanagers entry and one WebhookSink per webhook;
// `config` must have passed finish_escalation.
[[nodiscard]] std::unique_ptr<Escalator> make_escalator(const EscalationConfig& config);

} // namespace medic::coordinator::escalate
