// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/escalator.hpp"

#include <algorithm>
#include <utility>

#include "coordinator/escalate/alertmanager_sink.hpp"
#include "coordinator/escalate/webhook_sink.hpp"
#include "shared/clock.hpp"

namespace medic::coordinator::escalate {

Escalator::Escalator(std::vector<std::unique_ptr<Sink>> sinks,
                     std::map<std::string, std::string> labels)
    : m_sinks(std::move(sinks)), m_labels(std::move(labels)) {}

Escalator::~Escalator() {
  stop();
}

void Escalator::escalate(Notification notification) {
  notification.state = NotificationState::firing;
  notification.ends_at_ms = 0;
  send(std::move(notification));
}

void Escalator::resolve(Notification notification) {
  notification.state = NotificationState::resolved;
  if (notification.ends_at_ms == 0) {
    notification.ends_at_ms = SystemClock().now_unix_ms();
  }
  send(std::move(notification));
}

void Escalator::send(Notification notification) {
  for (const auto& [name, value] : m_labels) {
    const bool present = std::any_of(notification.labels.begin(), notification.labels.end(),
                                     [&name](const auto& label) { return label.name == name; });
    if (!present) {
      notification.labels.push_back({name, value});
    }
  }
  for (std::size_t i = 0; i < m_sinks.size(); ++i) {
    if (i + 1 == m_sinks.size()) {
      m_sinks[i]->enqueue(std::move(notification));
    } else {
      m_sinks[i]->enqueue(notification);
    }
  }
}

void Escalator::stop() {
  for (auto& sink : m_sinks) {
    sink->stop();
  }
}

std::vector<SinkStatus> Escalator::status() const {
  std::vector<SinkStatus> result;
  result.reserve(m_sinks.size());
  for (const auto& sink : m_sinks) {
    result.push_back({sink->name(), sink->counters(), sink->failed_deliveries(), sink->queued()});
  }
  return result;
}

std::vector<DeliveryOutcome> Escalator::drain_outcomes() {
  std::vector<DeliveryOutcome> result;
  for (auto& sink : m_sinks) {
    auto outcomes = sink->drain_outcomes();
    result.insert(result.end(), std::make_move_iterator(outcomes.begin()),
                  std::make_move_iterator(outcomes.end()));
  }
  return result;
}

std::unique_ptr<Escalator> make_escalator(const EscalationConfig& config) {
  std::vector<std::unique_ptr<Sink>> sinks;
  for (const auto& am : config.alertmanagers) {
    sinks.push_back(std::make_unique<AlertmanagerSink>(am, config.delivery));
  }
  for (const auto& webhook : config.webhooks) {
    sinks.push_back(std::make_unique<WebhookSink>(webhook, config.delivery));
  }
  return std::make_unique<Escalator>(std::move(sinks), config.labels);
}

} // namespace medic::coordinator::escalate
