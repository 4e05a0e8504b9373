// SPDX-License-Identifier: Apache-2.0
// parse_alertmanager_webhook on Alertmanager's version 4 payloads (firing and resolved, as its
// documentation and a real 0.25 instance send them) and on bodies it must refuse.
#include <catch2/catch.hpp>

#include "coordinator/escalate/alertmanager_webhook.hpp"
#include "coordinator/escalate/notification.hpp"

namespace escalate = medic::coordinator::escalate;
namespace protocol = medic::protocol;

namespace {

// As Alertmanager 0.25 posts it (group of two alerts, one resolved).
constexpr const char* k_payload = R"({
  "receiver": "medic",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "PostgresDown", "instance": "db-1.example.net:9187",
                 "job": "postgres", "severity": "critical", "category": "database"},
      "annotations": {"summary": "Postgres is down on db-1", "description": "pg_up == 0 for 1m"},
      "startsAt": "2026-11-23T07:47:18.123456789Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=pg_up+%3D%3D+0",
      "fingerprint": "c0ffee0123456789"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "HighLatency", "host": "api-2", "severity": "warning"},
      "annotations": {"description": "p99 over 2s"},
      "startsAt": "2026-11-23T07:00:00Z",
      "endsAt": "2026-11-23T09:30:00.5+02:00",
      "generatorURL": "",
      "fingerprint": "0123456789abcdef"
    }
  ],
  "groupLabels": {"alertname": "PostgresDown"},
  "commonLabels": {},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}:{alertname=\"PostgresDown\"}",
  "truncatedAlerts": 0
})";

std::string payload_with(const std::string& alerts) {
  return R"({"version": "4", "status": "firing", "alerts": )" + alerts + "}";
}

std::string error_of(std::string_view body) {
  auto parsed = escalate::parse_alertmanager_webhook(body);
  REQUIRE_FALSE(parsed);
  return parsed.error().message();
}

} // namespace

TEST_CASE("Alertmanager webhook: version 4 alerts become signals", "[escalate]") {
  auto parsed = escalate::parse_alertmanager_webhook(k_payload);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 2);

  const auto& down = (*parsed)[0];
  CHECK(down.host == "db-1.example.net");
  CHECK(down.signal.rule == "PostgresDown");
  CHECK(down.signal.state == protocol::SignalState::firing);
  CHECK(down.signal.severity == protocol::Severity::critical);
  CHECK(down.signal.category == protocol::Category::database);
  CHECK(down.signal.fingerprint == "c0ffee0123456789");
  CHECK(down.signal.message == "Postgres is down on db-1");
  CHECK(escalate::format_rfc3339(down.signal.time_ms) == "2026-11-23T07:47:18.123Z");
  CHECK(down.signal.labels.size() == 5);

  const auto& latency = (*parsed)[1];
  CHECK(latency.host == "api-2");
  CHECK(latency.signal.state == protocol::SignalState::cleared);
  CHECK(latency.signal.severity == protocol::Severity::medium);   // "warning"
  CHECK(latency.signal.category == protocol::Category::resource); // no category label
  CHECK(latency.signal.message == "p99 over 2s");
  CHECK(escalate::format_rfc3339(latency.signal.time_ms) == "2026-11-23T07:30:00.500Z");
}

TEST_CASE("Alertmanager webhook: bad bodies are refused with a clear error", "[escalate]") {
  CHECK(error_of("not json") == "Alertmanager webhook: the body is not valid JSON");
  CHECK(error_of("[]") == "Alertmanager webhook: the body is not a JSON object");
  CHECK(error_of(R"({"version": "3", "alerts": []})").find("only Alertmanager's version '4'") !=
        std::string::npos);
  CHECK(error_of(R"({"version": "4"})").find("'alerts' is missing") != std::string::npos);
  CHECK(error_of(payload_with(R"([{"status": "firing", "labels": {}, "fingerprint": "f"}])")) ==
        "Alertmanager webhook: alerts[0]: no 'alertname' label");
  CHECK(error_of(payload_with(R"([{"status": "firing", "labels": {"alertname": "A"}}])"))
            .find("alerts[0]: no 'fingerprint'") != std::string::npos);
  CHECK(error_of(payload_with(
            R"([{"status": "pending", "labels": {"alertname": "A"}, "fingerprint": "f"}])")) ==
        "Alertmanager webhook: alerts[0]: 'status' is 'pending', expected 'firing' or 'resolved'");
  CHECK(error_of(payload_with(R"([{"status": "firing", "labels": {"alertname": 3}}])"))
            .find("label 'alertname' is not a string") != std::string::npos);
  CHECK(error_of(payload_with("[1]")) == "Alertmanager webhook: alerts[0]: not an object");
}

TEST_CASE("Alertmanager webhook: size and count limits", "[escalate]") {
  const std::string huge(escalate::k_max_webhook_body_bytes + 1, ' ');
  CHECK(error_of(huge).find("limit 1048576") != std::string::npos);

  std::string many = "[";
  for (std::size_t i = 0; i <= escalate::k_max_webhook_alerts; ++i) {
    many += (i > 0 ? "," : "") + std::string("{}");
  }
  CHECK(error_of(payload_with(many + "]")) == "Alertmanager webhook: 1001 alerts, limit 1000");

  auto empty = escalate::parse_alertmanager_webhook(payload_with("[]"));
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("Alertmanager webhook: labels are bounded by the protocol's limits", "[escalate]") {
  std::string labels = R"({"alertname": "A", "long": ")" + std::string(1000, 'x') + "\"";
  for (int i = 0; i < 40; ++i) {
    labels += ",\"l" + std::to_string(i) + "\": \"v\"";
  }
  auto parsed = escalate::parse_alertmanager_webhook(
      payload_with(R"([{"status": "firing", "fingerprint": "f", "labels": )" + labels + "}}]"));
  REQUIRE(parsed);
  const auto& signal = parsed->front().signal;
  CHECK(signal.labels.size() == protocol::Limits::k_max_labels);
  for (const auto& label : signal.labels) {
    CHECK(label.value.size() <= protocol::Limits::k_max_label_value_bytes);
  }
  CHECK(signal.time_ms == 0); // no startsAt
}

TEST_CASE("Alertmanager webhook: host from instance without its port", "[escalate]") {
  CHECK(escalate::strip_port("web-1:9100") == "web-1");
  CHECK(escalate::strip_port("10.0.0.7:9100") == "10.0.0.7");
  CHECK(escalate::strip_port("[2001:db8::1]:9100") == "2001:db8::1");
  CHECK(escalate::strip_port("2001:db8::1") == "2001:db8::1");
  CHECK(escalate::strip_port("web-1") == "web-1");
  CHECK(escalate::strip_port("") == "");
}

TEST_CASE("Alertmanager webhook: RFC 3339 times", "[escalate]") {
  CHECK(escalate::parse_rfc3339_ms("1970-01-01T00:00:00Z") == 0);
  CHECK(escalate::parse_rfc3339_ms("2026-11-23T07:47:18Z") == 1795420038000);
  CHECK(escalate::parse_rfc3339_ms("2026-11-23T08:47:18.25+01:00") == 1795420038250);
  CHECK(escalate::parse_rfc3339_ms("0001-01-01T00:00:00Z") < 0);
  CHECK_FALSE(escalate::parse_rfc3339_ms("2026-11-23 07:47:18Z"));
  CHECK_FALSE(escalate::parse_rfc3339_ms("2026-13-23T07:47:18Z"));
  CHECK_FALSE(escalate::parse_rfc3339_ms("2026-11-23T07:47:18"));
  CHECK_FALSE(escalate::parse_rfc3339_ms("garbage"));
  CHECK(escalate::format_rfc3339(1795420038250) == "2026-11-23T07:47:18.250Z");
}
