// SPDX-License-Identifier: Apache-2.0
// What the Alertmanager input tells the rest of the coordinator (the engine): a webhook delivery
// arrived and was validated. Loop thread only; the listener must not block.
#pragma once

#include <cstdint>
#include <vector>

#include "coordinator/escalate/alertmanager_webhook.hpp"

namespace medic::coordinator::input {

class AlertListener {
public:
  AlertListener() = default;
  AlertListener(const AlertListener&) = delete;
  AlertListener& operator=(const AlertListener&) = delete;
  virtual ~AlertListener() = default;

  // One webhook delivery's alerts, in the order Alertmanager sent them. The engine attributes
  // each to the connected agent whose host name equals the alert's host (so medic can heal
  // through it), else to a pseudo agent "alertmanager/<host>" that can be diagnosed and
  // escalated but not remediated.
  virtual void on_alerts(std::vector<escalate::InboundAlert> alerts,
                         std::int64_t received_ms) noexcept = 0;
};

} // namespace medic::coordinator::input
