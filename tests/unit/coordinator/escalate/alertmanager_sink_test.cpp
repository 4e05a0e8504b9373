// SPDX-License-Identifier: Apache-2.0
// AlertmanagerSink against a real Alertmanager (Debian's prometheus-alertmanager on loopback, no
// clustering): the alert shows in its API, resolving removes it, and Alertmanager's own webhook
// (version 4) parses back into a signal. Re-posting is checked against a plain receiver.
#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "coordinator/escalate/alertmanager_sink.hpp"
#include "coordinator/escalate/alertmanager_webhook.hpp"
#include "coordinator/escalate/escalator.hpp"
#include "coordinator/escalate/http_client.hpp"
#include "shared/clock.hpp"
#include "tests/support/alertmanager.hpp"
#include "tests/support/http_receiver.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace escalate = medic::coordinator::escalate;
using escalate::Notification;
using medic::test::HttpReceiver;
using medic::test::wait_until;
using namespace std::chrono_literals;

namespace {

Notification incident_alert(std::uint64_t id) {
  Notification n;
  n.incident_id = id;
  n.labels = {{"alertname", "PostgresDown"},
              {"medic_incident", std::to_string(id)},
              {"severity", "critical"},
              {"category", "database"},
              {"host", "db-1"}};
  n.annotations = {{"summary", "critical PostgresDown on db-1"}, {"root_cause", "database-down"}};
  n.starts_at_ms = medic::SystemClock().now_unix_ms() - 60'000;
  return n;
}

} // namespace

TEST_CASE("Alertmanager sink: the alert is visible in a real Alertmanager and resolves",
          "[escalate]") {
  REQUIRE(std::filesystem::exists(medic::test::k_alertmanager_binary));
  const medic::test::TempDir dir;
  HttpReceiver receiver; // Alertmanager's own webhook lands here
  medic::test::Alertmanager alertmanager(dir.path(),
                                         medic::test::webhook_to(receiver.url("/alertmanager")));
  REQUIRE(alertmanager.wait_ready());

  escalate::EscalationConfig config;
  config.alertmanagers.push_back({"am", alertmanager.url(), "http://medic.example/incidents/1"});
  config.delivery.repeat_interval = 60s;
  config.labels = {{"env", "test"}};
  REQUIRE(escalate::finish_escalation(config));
  auto escalator = escalate::make_escalator(config);
  escalator->escalate(incident_alert(1));

  nlohmann::json alerts;
  REQUIRE(wait_until([&] { return (alerts = alertmanager.alerts()).size() == 1; }, 10s));
  CHECK(alerts[0]["labels"]["alertname"] == "PostgresDown");
  CHECK(alerts[0]["labels"]["medic_incident"] == "1");
  CHECK(alerts[0]["labels"]["env"] == "test");
  CHECK(alerts[0]["annotations"]["root_cause"] == "database-down");
  CHECK(alerts[0]["generatorURL"] == "http://medic.example/incidents/1");
  CHECK(alerts[0]["status"]["state"] == "active");
  CHECK(escalator->status()[0].counters.sent == 1);

  // Alertmanager routes it back to us as a version 4 webhook: an input medic understands.
  REQUIRE(wait_until([&] { return receiver.count() >= 1; }, 10s));
  auto inbound = escalate::parse_alertmanager_webhook(receiver.received()[0].body);
  REQUIRE(inbound);
  REQUIRE(inbound->size() == 1);
  CHECK(inbound->at(0).signal.rule == "PostgresDown");
  CHECK(inbound->at(0).signal.severity == medic::protocol::Severity::critical);
  CHECK(inbound->at(0).signal.fingerprint == alerts[0]["fingerprint"]);
  CHECK(inbound->at(0).host == "db-1");

  escalator->resolve(incident_alert(1));
  REQUIRE(wait_until([&] { return alertmanager.alerts().empty(); }, 10s));
  CHECK(escalator->status()[0].counters.sent == 2);
  const auto outcomes = escalator->drain_outcomes();
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[1].state == escalate::NotificationState::resolved);
  CHECK(outcomes[1].delivered);
  escalator->stop();
}

TEST_CASE("Alertmanager sink: open alerts are re-posted until resolved", "[escalate]") {
  HttpReceiver receiver;
  escalate::DeliveryOptions options;
  options.repeat_interval = 300ms;
  escalate::AlertmanagerSink sink({"am", receiver.url(""), ""}, options);
  sink.enqueue(incident_alert(1));
  sink.enqueue(incident_alert(2));
  REQUIRE(wait_until([&] { return sink.counters().reposted >= 4; }, 5s));
  CHECK(sink.counters().sent == 2);
  const auto requests = receiver.received();
  CHECK(requests[0].path == "/api/v2/alerts");
  CHECK(nlohmann::json::parse(requests.back().body).size() == 2); // both open, one request
  CHECK_FALSE(nlohmann::json::parse(requests.back().body)[0].contains("endsAt"));

  auto resolved = incident_alert(1);
  resolved.state = escalate::NotificationState::resolved;
  sink.enqueue(resolved);
  sink.enqueue(resolved);
  REQUIRE(wait_until([&] { return sink.counters().sent == 3; }, 5s));
  CHECK(sink.counters().deduplicated == 1);
  const auto before = sink.counters().reposted;
  REQUIRE(wait_until([&] { return sink.counters().reposted >= before + 2; }, 5s));
  const auto last = nlohmann::json::parse(receiver.received().back().body);
  REQUIRE(last.size() == 1); // only incident 2 is still open
  CHECK(last[0]["labels"]["medic_incident"] == "2");
  CHECK(sink.drain_outcomes().size() == 3); // re-posts that worked are not audited
}

TEST_CASE("Alertmanager sink: a changed label set resolves the old one", "[escalate]") {
  const auto now = medic::SystemClock().now_unix_ms();
  auto first = incident_alert(1);
  auto worse = incident_alert(1);
  worse.labels[2].value = "high";
  HttpReceiver receiver;
  escalate::DeliveryOptions options;
  options.repeat_interval = 60s; // new labels are news even within it
  escalate::AlertmanagerSink sink({"am", receiver.url(""), ""}, options);
  sink.enqueue(first);
  REQUIRE(wait_until([&] { return receiver.count() == 1; }, 5s));
  sink.enqueue(worse);
  REQUIRE(wait_until([&] { return receiver.count() >= 2; }, 5s));
  const auto body = nlohmann::json::parse(receiver.received()[1].body);
  REQUIRE(body.size() == 2);
  CHECK(body[0]["labels"]["severity"] == "high");
  CHECK_FALSE(body[0].contains("endsAt"));
  CHECK(body[1]["labels"]["severity"] == "critical");
  CHECK(escalate::parse_rfc3339_ms(body[1]["endsAt"].get<std::string>()) >= now);
}

TEST_CASE("escalation URLs: only http and https", "[escalate]") {
  CHECK(escalate::check_http_url("http://127.0.0.1:9093"));
  CHECK(escalate::check_http_url("https://am.example.net/prefix/"));
  CHECK(escalate::check_http_url("file:///etc/passwd").error().message() ==
        "url 'file:///etc/passwd': only http:// and https:// URLs are allowed");
  CHECK_FALSE(escalate::check_http_url("gopher://x"));
  CHECK_FALSE(escalate::check_http_url("http://"));
  CHECK_FALSE(escalate::check_http_url("http://user:pw@host/"));
  CHECK_FALSE(escalate::check_http_url("http://host/a b"));
}
