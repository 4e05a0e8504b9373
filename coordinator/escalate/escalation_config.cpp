// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/escalation_config.hpp"

#include <set>

#include "coordinator/escalate/http_client.hpp"
#include "shared/config/records.hpp"

namespace medic::coordinator::escalate {

namespace {

using medic::config::FieldKind;
using medic::config::Record;
using medic::config::RecordField;
using std::chrono::milliseconds;

std::vector<RecordField> alertmanager_fields() {
  return {
      {"url", FieldKind::text, true, "base URL, e.g. http://127.0.0.1:9093 (http or https)", {}},
      {"name", FieldKind::text, false, "for logs and the audit trail; default alertmanager-N", {}},
      {"generator_url", FieldKind::text, false, "link shown with the alert", {}},
  };
}

std::vector<RecordField> webhook_fields() {
  return {
      {"url", FieldKind::text, true, "where to POST the incident's JSON (http or https)", {}},
      {"name", FieldKind::text, false, "for logs and the audit trail; default webhook-N", {}},
      {"token", FieldKind::text, false, "sent as 'Authorization: Bearer <token>'", {}},
      {"secret",
       FieldKind::text,
       false,
       "signs the body: X-Medic-Signature: sha256=<hmac hex>",
       {}},
  };
}

Result<void> checked_url(const Record& record) {
  if (auto ok = check_http_url(record.text("url")); !ok) {
    return fail(record.error(ok.error().message()));
  }
  return {};
}

void add_rule_keys(medic::config::Schema& schema, EscalationConfig& config) {
  auto& rules = config.rules;
  schema.add_bool("escalation.rules.critical_at_once", rules.critical_at_once,
                  "Escalate a critical incident as soon as it opens");
  schema.add_integer(
      "escalation.rules.max_failed_attempts", rules.max_failed_attempts, std::uint32_t{0},
      std::uint32_t{100},
      "Escalate after this many failed recovery attempts (0: never for this reason)");
  schema.add_bool("escalation.rules.fleet", rules.fleet,
                  "Escalate a fleet incident (same problem on many hosts) at once");
  schema.add_bool("escalation.rules.flapping", rules.flapping, "Escalate a flapping incident");
  schema.add_bool("escalation.rules.approval_timeout", rules.approval_timeout,
                  "Escalate when an action waiting for approval times out");
  schema.add_choice("escalation.rules.needs_review_severity", config.needs_review_severity,
                    {"critical", "high", "medium", "low", "info", "never"},
                    "Escalate an incident no diagnosis rule matched at this severity or worse");
}

void add_delivery_keys(medic::config::Schema& schema, DeliveryOptions& d) {
  schema.add_duration("escalation.repeat_interval", d.repeat_interval, milliseconds(1000),
                      std::chrono::hours(24),
                      "Same incident and state not sent twice within this; open alerts are "
                      "re-posted to Alertmanager this often (keep it under its resolve_timeout)");
  schema.add_duration("escalation.connect_timeout", d.timeouts.connect, milliseconds(100),
                      milliseconds(60'000), "Per request: time to connect");
  schema.add_duration("escalation.request_timeout", d.timeouts.total, milliseconds(100),
                      milliseconds(300'000), "Per request: total time, connect included");
  schema.add_integer("escalation.queue_size", d.queue_size, std::uint32_t{1},
                     std::uint32_t{1'000'000},
                     "Notifications waiting per sink; when full the oldest is dropped (counted)");
  schema.add_integer("escalation.retry.max_attempts", d.max_attempts, std::uint32_t{1},
                     std::uint32_t{100}, "Attempts per delivery, the first included");
  schema.add_duration("escalation.retry.initial_backoff", d.initial_backoff, milliseconds(1),
                      std::chrono::hours(1),
                      "Upper bound of the first retry's random delay (full jitter); doubles "
                      "with each retry");
  schema.add_duration("escalation.retry.max_backoff", d.max_backoff, milliseconds(1),
                      std::chrono::hours(1), "Cap of the retry delay's upper bound");
  schema.add_integer("escalation.failed_kept", d.failed_kept, std::uint32_t{0},
                     std::uint32_t{100'000}, "Failed deliveries kept per sink for operators");
  schema.add_integer("escalation.outcomes_kept", d.outcomes_kept, std::uint32_t{1},
                     std::uint32_t{1'000'000},
                     "Delivery outcomes waiting for the engine's audit per sink; oldest dropped");
  schema.add_integer("escalation.max_open_alerts", d.max_open_alerts, std::uint32_t{1},
                     std::uint32_t{1'000'000},
                     "Firing alerts re-posted per Alertmanager sink; beyond, the oldest stops");
}

void add_sink_keys(medic::config::Schema& schema, EscalationConfig& config) {
  schema.add_records(
      "escalation.alertmanagers", alertmanager_fields(),
      "Alertmanager instances (API v2) to post alerts to",
      [&config](const std::vector<Record>& records) -> Result<void> {
        config.alertmanagers.clear();
        for (const auto& r : records) {
          if (auto ok = checked_url(r); !ok) {
            return ok;
          }
          config.alertmanagers.push_back({r.text("name"), r.text("url"), r.text("generator_url")});
        }
        return {};
      });
  schema.add_records("escalation.webhooks", webhook_fields(),
                     "HTTP receivers of the incident's full JSON context",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       config.webhooks.clear();
                       for (const auto& r : records) {
                         if (auto ok = checked_url(r); !ok) {
                           return ok;
                         }
                         config.webhooks.push_back(
                             {r.text("name"), r.text("url"), r.text("token"), r.text("secret")});
                       }
                       return {};
                     });
}

Result<void> name_sinks(EscalationConfig& config) {
  std::set<std::string> names;
  const auto claim = [&names](std::string& name, std::string_view kind,
                              std::size_t index) -> Result<void> {
    if (name.empty()) {
      name = std::string(kind) + "-" + std::to_string(index + 1);
    }
    if (!names.insert(name).second) {
      return fail(ErrorCode::config, "escalation: two sinks are named '" + name + "'");
    }
    return {};
  };
  for (std::size_t i = 0; i < config.alertmanagers.size(); ++i) {
    if (auto ok = claim(config.alertmanagers[i].name, "alertmanager", i); !ok) {
      return ok;
    }
  }
  for (std::size_t i = 0; i < config.webhooks.size(); ++i) {
    if (auto ok = claim(config.webhooks[i].name, "webhook", i); !ok) {
      return ok;
    }
  }
  return {};
}

} // namespace

void add_escalation_keys(medic::config::Schema& schema, EscalationConfig& config) {
  add_rule_keys(schema, config);
  add_delivery_keys(schema, config.delivery);
  add_sink_keys(schema, config);
  schema.add_string("escalation.generator_url", config.generator_url,
                    "Link to medic shown with every Alertmanager alert (a sink's own wins)");
  schema.add_string_map("escalation.labels", config.labels,
                        "Labels added to every alert, e.g. {env: prod, team: ops}");
}

Result<void> finish_escalation(EscalationConfig& config) {
  const auto& d = config.delivery;
  if (d.timeouts.connect > d.timeouts.total) {
    return fail(ErrorCode::config,
                "escalation.connect_timeout must not be longer than escalation.request_timeout");
  }
  if (d.initial_backoff > d.max_backoff) {
    return fail(ErrorCode::config,
                "escalation.retry.initial_backoff must not be longer than "
                "escalation.retry.max_backoff");
  }
  for (auto& am : config.alertmanagers) {
    if (am.generator_url.empty()) {
      am.generator_url = config.generator_url;
    }
  }
  if (config.needs_review_severity == "never") {
    config.rules.needs_review_at.reset();
  } else {
    config.rules.needs_review_at = protocol::parse_severity(config.needs_review_severity);
  }
  return name_sinks(config);
}

} // namespace medic::coordinator::escalate
