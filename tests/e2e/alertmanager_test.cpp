// SPDX-License-Identifier: Apache-2.0
// medic and a real Alertmanager (Debian's prometheus-alertmanager on loopback), both ways.
// Input: an alert posted to Alertmanager reaches medic through Alertmanager's own webhook,
// becomes an incident on the host of a real agent, is diagnosed by the test's rule and healed by
// that agent (a file its exec action creates); resolving the alert resolves the incident.
// Escalation: a critical incident of a real agent with nothing to heal it with is posted to
// Alertmanager (visible in its API with medic's labels) and to a webhook receiver with the full
// context; when the process is back, the alert is resolved in Alertmanager.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/e2e/brain_helpers.hpp"
#include "tests/support/alertmanager.hpp"
#include "tests/support/http_receiver.hpp"

using namespace std::chrono_literals;
using medic::test::Alertmanager;
using medic::test::Fleet;
using nlohmann::json;
using namespace medic::test::brain;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_token = "e2e-alert-token-5f2c";

// The agent whose host the alert names; its catalog has an action that leaves a real trace.
std::string marker_agent_config(const std::string& host, const fs::path& marker) {
  return "agent:\n  host: " + host +
         "\n"
         "actions:\n"
         "  - name: clear-cache\n"
         "    kind: exec\n"
         "    risk: low\n"
         "    timeout: 5s\n"
         "    cooldown: 0s\n"
         "    argv: [/usr/bin/touch, " +
         marker.string() + "]\n";
}

std::string marker_rules(const Fleet& fleet) {
  const fs::path rules = fleet.dir() / "alert-rules.yaml";
  std::ofstream(rules) << "rules:\n"
                          "  - id: cache-full\n"
                          "    when: {rule: MedicE2eCacheFull}\n"
                          "    root_cause: cache-full\n"
                          "    causes: [the cache filled up]\n"
                          "    confidence: 0.9\n"
                          "    automation: auto\n"
                          "    actions:\n"
                          "      - {action: clear-cache, success_rate: 0.9}\n";
  return rules.string();
}

json alert(const std::string& host, std::chrono::milliseconds ends_in) {
  return json::array({{{"labels",
                        {{"alertname", "MedicE2eCacheFull"},
                         {"instance", host + ":9100"},
                         {"severity", "warning"},
                         {"service", "cache"}}},
                       {"annotations", {{"summary", "the cache is full"}}},
                       {"startsAt", medic::test::rfc3339_from_now(-10s)},
                       {"endsAt", medic::test::rfc3339_from_now(ends_in)}}});
}

std::optional<json> incident_on(const Fleet& fleet, const std::string& rule,
                                const std::string& host) {
  return incident_with_rule(fleet, rule, host);
}

} // namespace

TEST_CASE("alertmanager input: an alert is diagnosed and healed on the agent of its host") {
  REQUIRE(fs::exists(medic::test::k_alertmanager_binary));
  Fleet fleet;
  const int port = medic::test::free_loopback_port();
  const fs::path token = fleet.dir() / "alert.token";
  medic::test::write_file(token, std::string(k_token) + "\n");
  ::chmod(token.c_str(), 0600);
  const fs::path amdir = fleet.dir() / "am";
  fs::create_directory(amdir);
  Alertmanager alertmanager(
      amdir, {"http://127.0.0.1:" + std::to_string(port) + "/api/v1/alertmanager", k_token});
  fleet.start_coordinator(
      "tcp://127.0.0.1:*",
      coordinator_config(marker_rules(fleet), "{cooldown: 1s}",
                         "alertmanager_input:\n  listen: 127.0.0.1:" + std::to_string(port) +
                             "\n  token_file: " + token.string() +
                             "\nescalation:\n  rules: {critical_at_once: false}\n"));
  const std::string host = "am-e2e-host-" + std::to_string(::getpid());
  const fs::path marker = fleet.dir() / "cache-cleared";
  fleet.start_agent("cache-1", true, marker_agent_config(host, marker));
  INFO(fleet.logs());
  REQUIRE(alertmanager.wait_ready());
  REQUIRE(medic::test::wait_until([&] { return fleet.agent("cache-1").has_value(); }, 15s));

  REQUIRE(alertmanager.post_alerts(alert(host, 1h)));
  std::optional<json> incident;
  REQUIRE(medic::test::wait_until(
      [&] { return (incident = incident_on(fleet, "MedicE2eCacheFull", host)).has_value(); }, 20s,
      200ms));
  INFO(dump_incidents(fleet));
  CHECK(incident->value("host", "") == host);
  REQUIRE(medic::test::wait_until([&] { return fs::exists(marker); }, 20s, 100ms));
  incident = incident_on(fleet, "MedicE2eCacheFull", host);
  REQUIRE(incident);
  CHECK(incident->at("diagnosis").value("root_cause", "") == "cache-full");
  const auto id = incident->value("id", std::uint64_t{0});
  REQUIRE(medic::test::wait_until([&] { return contains(timeline_kinds(fleet, id), "command"); },
                                  10s, 200ms));

  // Alertmanager sends the resolution (send_resolved) on its next group interval.
  REQUIRE(alertmanager.post_alerts(alert(host, -1s)));
  REQUIRE(medic::test::wait_until(
      [&] {
        incident = incident_on(fleet, "MedicE2eCacheFull", host);
        return incident && incident->value("state", "") == "resolved";
      },
      30s, 200ms));
  CHECK(incident->value("id", std::uint64_t{0}) == id);
}

TEST_CASE("escalation to alertmanager: a critical incident is posted and resolved there") {
  REQUIRE(fs::exists(medic::test::k_alertmanager_binary));
  Fleet fleet;
  const fs::path amdir = fleet.dir() / "am";
  fs::create_directory(amdir);
  Alertmanager alertmanager(amdir); // keeps alerts; no receiver needed
  medic::test::HttpReceiver webhook;
  TestService service(fleet, "medic-am-svc");
  fleet.start_coordinator("tcp://127.0.0.1:*",
                          coordinator_config(write_rules(fleet, "auto"), "{cooldown: 1s}",
                                             "escalation:\n"
                                             "  rules: {critical_at_once: true}\n"
                                             "  repeat_interval: 2s\n"
                                             "  labels: {env: e2e}\n"
                                             "  alertmanagers:\n    - {url: '" +
                                                 alertmanager.url() +
                                                 "', name: am}\n"
                                                 "  webhooks:\n    - {url: '" +
                                                 webhook.url("/medic") + "', name: bot}\n"));
  // The agent watches the service but its catalog has no action to start it again.
  const std::string host = service.path.filename().string() + "-host";
  fleet.start_agent("svc-1", true,
                    "agent:\n  host: " + host +
                        "\n  labels: {service: svc}\n"
                        "processes:\n  - {name: svc, process_name: " +
                        service.path.filename().string() +
                        "}\n"
                        "sample:\n  process_discovery_ms: 1000\n");
  INFO(fleet.logs());
  REQUIRE(alertmanager.wait_ready());
  REQUIRE(medic::test::wait_until([&] { return fleet.agent("svc-1").has_value(); }, 15s));
  medic::test::sleep_for(1500ms); // the process sampler has seen it up
  REQUIRE(service.crash());

  json alerts;
  REQUIRE(medic::test::wait_until([&] { return !(alerts = alertmanager.alerts()).empty(); }, 30s,
                                  200ms));
  INFO(alerts.dump());
  const json& labels = alerts[0]["labels"];
  CHECK(labels.value("env", "") == "e2e");
  CHECK(labels.contains("medic_incident"));
  CHECK(labels.value("severity", "") == "critical");
  CHECK(alerts[0]["status"]["state"] == "active");
  std::optional<json> incident; // the incident list is written behind, about once a second
  REQUIRE(medic::test::wait_until(
      [&] { return (incident = incident_with_rule(fleet, "process-down", host)).has_value(); }, 10s,
      200ms));
  CHECK(labels.value("medic_incident", "") ==
        std::to_string(incident->value("id", std::uint64_t{0})));

  REQUIRE(medic::test::wait_until([&] { return webhook.count() >= 1; }, 20s, 100ms));
  const auto body = json::parse(webhook.received()[0].body, nullptr, false);
  INFO(webhook.received()[0].body);
  REQUIRE(body.is_object());
  const json context = body.value("context", json::object());
  CHECK(context.value("signals", json::array()).size() >= 1);
  CHECK(context.value("incident", json::object()).value("rule", "") == "process-down");
  CHECK(context.value("diagnosis", json()).is_object());
  CHECK(context.value("actions", json()).is_array());

  // The process is back (started by hand): the incident resolves, and so does the alert.
  medic::test::Process again({service.path.string(), "3600"}, fleet.dir() / "again.log");
  REQUIRE(medic::test::wait_until(
      [&] {
        const auto now = incident_with_rule(fleet, "process-down", host);
        return now && now->value("state", "") == "resolved";
      },
      30s, 200ms));
  // medic posts the alert with endsAt = now: Alertmanager no longer lists it as active.
  REQUIRE(medic::test::wait_until([&] { return alertmanager.alerts().empty(); }, 20s, 200ms));
}
