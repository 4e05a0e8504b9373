// SPDX-License-Identifier: Apache-2.0
// The coordinator's `escalation.*` keys: the rules, the sinks (Alertmanager URLs, webhooks with
// url/token/secret), repeat interval, timeouts, retries and queue sizes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "coordinator/escalate/alertmanager_sink.hpp"
#include "coordinator/escalate/escalation_rules.hpp"
#include "coordinator/escalate/sink.hpp"
#include "coordinator/escalate/webhook_sink.hpp"
#include "shared/config/schema.hpp"

namespace medic::coordinator::escalate {

struct EscalationConfig {
  EscalationRules rules;
  std::vector<AlertmanagerSinkConfig> alertmanagers;
  std::vector<WebhookSinkConfig> webhooks;
  DeliveryOptions delivery;
  std::string generator_url;                 // default generatorURL for Alertmanager sinks
  std::map<std::string, std::string> labels; // added to every alert, e.g. {env: prod}

  // The schema's text for needs_review_at (finish_escalation turns it into the rule).
  std::string needs_review_severity = "high";
};

void add_escalation_keys(medic::config::Schema& schema, EscalationConfig& config);

// Checks URLs (http/https only), names (unique; defaults "alertmanager-N", "webhook-N"),
// timeouts (connect <= total), backoff (initial <= max); sets rules.needs_review_at.
[[nodiscard]] Result<void> finish_escalation(EscalationConfig& config);

} // namespace medic::coordinator::escalate
