// SPDX-License-Identifier: Apache-2.0
// Escalation to Prometheus Alertmanager through its API v2: POST {url}/api/v2/alerts with a JSON
// array of {labels, annotations, startsAt, endsAt, generatorURL}. Alertmanager then groups,
// silences, inhibits and routes (Slack, e-mail, PagerDuty). It forgets an alert that is not
// posted again within its resolve_timeout, so open alerts are re-posted every repeat_interval;
// resolving posts the same labels with endsAt = now.
#pragma once

#include <string>

#include "coordinator/escalate/sink.hpp"

namespace medic::coordinator::escalate {

struct AlertmanagerSinkConfig {
  std::string name;          // for logs, counters and the audit trail
  std::string url;           // base URL, e.g. "http://127.0.0.1:9093"
  std::string generator_url; // a link back to medic shown with the alert; '' = none
};

class AlertmanagerSink final : public Sink {
public:
  // `config.url` must pass check_http_url (finish_escalation checks it).
  AlertmanagerSink(const AlertmanagerSinkConfig& config, DeliveryOptions options);
};

// The request AlertmanagerSink sends: exposed for tests and for `medicctl` previews.
[[nodiscard]] HttpRequest alertmanager_request(const AlertmanagerSinkConfig& config,
                                               std::span<const Notification> batch,
                                               std::int64_t now_ms);

} // namespace medic::coordinator::escalate
