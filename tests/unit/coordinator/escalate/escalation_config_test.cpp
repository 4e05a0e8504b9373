// SPDX-License-Identifier: Apache-2.0
// The escalation.* keys: sinks as records, rules, delivery settings, and clear errors for URLs
// that are not http(s), duplicate names and inconsistent timeouts.
#include <catch2/catch.hpp>

#include "coordinator/escalate/escalation_config.hpp"

namespace escalate = medic::coordinator::escalate;
using namespace std::chrono_literals;

namespace {

medic::Result<escalate::EscalationConfig> load(std::string_view yaml) {
  escalate::EscalationConfig config;
  medic::config::Schema schema("MEDIC_TEST_");
  escalate::add_escalation_keys(schema, config);
  if (auto loaded = schema.load_text(yaml, "coordinator.yaml"); !loaded) {
    return medic::fail(loaded.error());
  }
  if (auto finished = escalate::finish_escalation(config); !finished) {
    return medic::fail(finished.error());
  }
  return config;
}

} // namespace

TEST_CASE("escalation config: defaults", "[escalate]") {
  auto config = load("{}");
  REQUIRE(config);
  CHECK(config->alertmanagers.empty());
  CHECK(config->webhooks.empty());
  CHECK(config->delivery.timeouts.connect == 2s);
  CHECK(config->delivery.timeouts.total == 5s);
  CHECK(config->delivery.repeat_interval == 2min);
  CHECK(config->rules.max_failed_attempts == 3);
  CHECK(config->rules.needs_review_at == medic::protocol::Severity::high);
}

TEST_CASE("escalation config: sinks, rules and delivery from YAML", "[escalate]") {
  auto config = load(R"(
escalation:
  alertmanagers:
    - url: http://127.0.0.1:9093
    - url: https://am2.example.net
      name: am-backup
      generator_url: https://medic.example.net/ui
  webhooks:
    - url: https://bot.example.net/medic
      token: t0ken
      secret: sh4red
  generator_url: https://medic.example.net
  labels: {env: prod}
  repeat_interval: 1m
  connect_timeout: 1s
  request_timeout: 3s
  queue_size: 64
  retry: {max_attempts: 3, initial_backoff: 100ms, max_backoff: 10s}
  rules:
    max_failed_attempts: 2
    fleet: false
    needs_review_severity: never
)");
  REQUIRE(config);
  REQUIRE(config->alertmanagers.size() == 2);
  CHECK(config->alertmanagers[0].name == "alertmanager-1");
  CHECK(config->alertmanagers[0].generator_url == "https://medic.example.net");
  CHECK(config->alertmanagers[1].name == "am-backup");
  CHECK(config->alertmanagers[1].generator_url == "https://medic.example.net/ui");
  REQUIRE(config->webhooks.size() == 1);
  CHECK(config->webhooks[0].name == "webhook-1");
  CHECK(config->webhooks[0].token == "t0ken");
  CHECK(config->webhooks[0].secret == "sh4red");
  CHECK(config->labels.at("env") == "prod");
  CHECK(config->delivery.repeat_interval == 1min);
  CHECK(config->delivery.timeouts.connect == 1s);
  CHECK(config->delivery.timeouts.total == 3s);
  CHECK(config->delivery.queue_size == 64);
  CHECK(config->delivery.max_attempts == 3);
  CHECK(config->delivery.initial_backoff == 100ms);
  CHECK(config->rules.max_failed_attempts == 2);
  CHECK_FALSE(config->rules.fleet);
  CHECK_FALSE(config->rules.needs_review_at);
}

TEST_CASE("escalation config: bad values are refused with a clear error", "[escalate]") {
  auto scheme = load("escalation:\n  webhooks:\n    - url: ftp://example.net/x\n");
  REQUIRE_FALSE(scheme);
  CHECK(scheme.error().message().find("only http:// and https:// URLs are allowed") !=
        std::string::npos);
  CHECK(scheme.error().message().find("webhooks[0]") != std::string::npos);

  auto twice = load(
      "escalation:\n  webhooks:\n    - {url: 'http://a', name: x}\n"
      "    - {url: 'http://b', name: x}\n");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message() == "escalation: two sinks are named 'x'");

  auto timeouts = load("escalation:\n  connect_timeout: 10s\n  request_timeout: 5s\n");
  REQUIRE_FALSE(timeouts);
  CHECK(timeouts.error().message().find("connect_timeout must not be longer") != std::string::npos);

  auto unknown = load("escalation:\n  webhooks:\n    - {url: 'http://a', secrett: x}\n");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message().find("secrett") != std::string::npos);

  CHECK_FALSE(load("escalation:\n  rules:\n    needs_review_severity: severe\n"));
}
