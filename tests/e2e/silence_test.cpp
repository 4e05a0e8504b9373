// SPDX-License-Identifier: Apache-2.0
// Silences with real processes: a real agent's service crashes, the critical incident would be
// escalated to a webhook at once, but a silence on its host holds the notification (its timeline
// says which silence); the silence survives `kill -9` of the coordinator and an expired one stays
// expired; once the silence is expired the notification is sent. Plus medicctl's silence and
// agent show commands with good and bad arguments against a live coordinator.
#include <signal.h>

#include <chrono>

#include <catch2/catch.hpp>

#include "tests/e2e/brain_helpers.hpp"
#include "tests/support/http_receiver.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;
using namespace medic::test::brain;

namespace {

std::vector<std::string> silence_ids(const Fleet& fleet, bool all) {
  std::vector<std::string> ids;
  const auto listed = fleet.ctl_json(all ? std::vector<std::string>{"silence", "list", "--all"}
                                         : std::vector<std::string>{"silence", "list"});
  if (listed) {
    for (const auto& s : listed->value("silences", json::array())) {
      ids.push_back(s.value("id", "") + ":" + s.value("state", ""));
    }
  }
  return ids;
}

std::string webhook_config(const medic::test::HttpReceiver& webhook) {
  return "escalation:\n"
         "  rules: {critical_at_once: true}\n"
         "  webhooks:\n    - {url: '" +
         webhook.url("/medic") + "', name: bot}\n";
}

// An agent watching the service, with no action that could start it again.
std::string watching_agent(const TestService& service, const std::string& host) {
  return "agent:\n  host: " + host +
         "\n  labels: {service: svc, env: e2e-prod}\n"
         "processes:\n  - {name: svc, process_name: " +
         service.path.filename().string() +
         "}\n"
         "sample:\n  process_discovery_ms: 1000\n";
}

} // namespace

TEST_CASE("a silenced incident is not notified and survives kill -9 until it is expired") {
  Fleet fleet;
  medic::test::HttpReceiver webhook;
  TestService service(fleet, "medic-silence-svc");
  const std::string config =
      coordinator_config(write_rules(fleet, "auto"), "{cooldown: 1s}", webhook_config(webhook));
  fleet.start_coordinator("tcp://127.0.0.1:*", config);
  const std::string host = service.path.filename().string() + "-host";
  fleet.start_connected_agent("svc-1", watching_agent(service, host));
  INFO(fleet.logs());

  const auto added = fleet.ctl_json({"silence", "add", "--host", host, "--label", "env=~e2e-.*",
                                     "--duration", "1h", "--comment", "e2e: planned work"});
  REQUIRE(added);
  const std::string id = added->at("silence").value("id", "");
  REQUIRE(id.size() == 36);
  CHECK(added->at("silence").value("state", "") == "active");
  CHECK(added->at("silence").value("created_by", "").starts_with("operator:uid="));
  // A second silence, expired at once: it must stay expired whatever happens next.
  const auto other = fleet.ctl_json({"silence", "add", "--host", "elsewhere", "--duration", "1h",
                                     "--comment", "e2e: expired early"});
  REQUIRE(other);
  const std::string other_id = other->at("silence").value("id", "");
  const auto expired_other = fleet.ctl_words({"silence", "expire", other_id});
  INFO(expired_other.output << expired_other.errors);
  REQUIRE(expired_other.status.exited_with(0));
  CHECK(expired_other.output.find("expired") != std::string::npos);
  CHECK(silence_ids(fleet, false) == std::vector<std::string>{id + ":active"});

  medic::test::sleep_for(1500ms); // the process sampler has seen it up
  REQUIRE(service.crash());

  // The incident opens critical, would be escalated at once, and is held by the silence.
  std::uint64_t incident_id = 0;
  REQUIRE(medic::test::wait_until(
      [&] {
        const auto incident = incident_with_rule(fleet, "process-down", host);
        if (!incident) {
          return false;
        }
        incident_id = incident->value("id", std::uint64_t{0});
        return contains(timeline_kinds(fleet, incident_id), "silenced");
      },
      30s, 200ms));
  INFO(dump_incidents(fleet));
  const auto shown = fleet.ctl_words({"incident", "show", std::to_string(incident_id)});
  CHECK(shown.output.find("silence " + id) != std::string::npos);
  medic::test::sleep_for(1s); // a notification would have been posted by now
  CHECK(webhook.count() == 0);
  CHECK_FALSE(contains(timeline_kinds(fleet, incident_id), "escalated"));

  // kill -9: the silence was committed before `silence add` answered.
  fleet.coordinator().signal(SIGKILL);
  REQUIRE(fleet.coordinator().wait_for(5s));
  fleet.start_coordinator(fleet.endpoint(), config);
  CHECK(silence_ids(fleet, false) == std::vector<std::string>{id + ":active"});
  const auto all = silence_ids(fleet, true);
  CHECK(std::find(all.begin(), all.end(), other_id + ":expired") != all.end());
  REQUIRE(medic::test::wait_until([&] { return fleet.agent("svc-1").has_value(); }, 15s));
  medic::test::sleep_for(1500ms);
  CHECK(webhook.count() == 0);

  // Expired: the incident still needs a person, so the notification goes out now.
  const auto expired = fleet.ctl_words({"silence", "expire", id});
  INFO(expired.output << expired.errors);
  REQUIRE(expired.status.exited_with(0));
  REQUIRE(medic::test::wait_until([&] { return webhook.count() >= 1; }, 20s, 100ms));
  const auto body = json::parse(webhook.received()[0].body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(body.value("context", json::object()).value("incident", json::object()).value("rule", "") ==
        "process-down");
  REQUIRE(medic::test::wait_until(
      [&] { return contains(timeline_kinds(fleet, incident_id), "escalated"); }, 10s, 200ms));
  CHECK(silence_ids(fleet, false).empty());

  // And it stays expired across another crash.
  fleet.coordinator().signal(SIGKILL);
  REQUIRE(fleet.coordinator().wait_for(5s));
  fleet.start_coordinator(fleet.endpoint(), config);
  CHECK(silence_ids(fleet, false).empty());
  const auto again = silence_ids(fleet, true);
  CHECK(std::find(again.begin(), again.end(), id + ":expired") != again.end());
}

TEST_CASE("medicctl silence and agent show: good and bad arguments against a live coordinator") {
  Fleet fleet;
  fleet.start_coordinator();
  fleet.start_agent("show-1");
  INFO(fleet.logs());
  // Listed once its HELLO is stored; shown below once its first batch is too.
  REQUIRE(medic::test::wait_until(
      [&] {
        const auto listed = fleet.agent("show-1");
        return listed && listed->value("batches", std::uint64_t{0}) >= 1;
      },
      15s));

  // agent show: one agent in full.
  const auto shown = fleet.ctl_json({"agent", "show", "show-1"});
  REQUIRE(shown);
  const json& agent = shown->at("agent");
  CHECK(agent.value("id", "") == "show-1");
  CHECK(agent.value("state", "") == "live");
  CHECK(agent.value("batches", std::uint64_t{0}) >= 1);
  CHECK(agent.at("keys").size() == 1);
  CHECK(agent.at("keys").at(0).value("state", "") == "active");
  CHECK(agent.at("open_incidents").is_array());
  CHECK(agent.value("catalog_known", false));
  CHECK(agent.at("catalog").is_array());
  CHECK(agent.at("latest").size() >= 1);
  const auto table = fleet.ctl_words({"agent", "show", "show-1"});
  REQUIRE(table.status.exited_with(0));
  CHECK(table.output.find("latest samples") != std::string::npos);
  CHECK(table.output.find("action catalog") != std::string::npos);
  const auto unknown = fleet.ctl_words({"agent", "show", "nobody"});
  CHECK(unknown.status.exited_with(1));
  CHECK(unknown.errors.find("not-found") != std::string::npos);
  CHECK(unknown.errors.find("medicctl agents") != std::string::npos);
  CHECK(fleet.ctl_words({"agent", "show"}).status.exited_with(2));

  // silence: usage errors exit 2 before reaching the coordinator; refusals exit 1.
  const auto no_comment = fleet.ctl_words({"silence", "add", "--host", "h", "--duration", "1h"});
  CHECK(no_comment.status.exited_with(2));
  CHECK(no_comment.errors.find("--comment") != std::string::npos);
  CHECK(fleet.ctl_words({"silence", "add", "--label", "a=~(", "--duration", "1h", "--comment", "x"})
            .status.exited_with(2));
  const auto past = fleet.ctl_words(
      {"silence", "add", "--host", "h", "--until", "1000", "--comment", "too late"});
  CHECK(past.status.exited_with(1));
  CHECK(past.errors.find("in the past") != std::string::npos);
  const auto missing = fleet.ctl_words({"silence", "expire", "no-such-silence"});
  CHECK(missing.status.exited_with(1));
  CHECK(missing.errors.find("not-found") != std::string::npos);
  CHECK(missing.errors.find("silence list --all") != std::string::npos);

  const auto added = fleet.ctl_words({"silence", "add", "--severity", "high", "--rule", "~disk-.*",
                                      "--duration", "30m", "--comment", "disk work"});
  INFO(added.output << added.errors);
  REQUIRE(added.status.exited_with(0));
  CHECK(added.output.find("severity>=high, rule=~disk-.*") != std::string::npos);
  const auto listed = fleet.ctl_words({"silence", "list"});
  REQUIRE(listed.status.exited_with(0));
  CHECK(listed.output.find("disk work") != std::string::npos);
  CHECK(listed.output.find("active") != std::string::npos);
  const auto id = silence_ids(fleet, false).at(0);
  const std::string bare = id.substr(0, id.find(':'));
  REQUIRE(fleet.ctl_words({"silence", "expire", bare}).status.exited_with(0));
  const auto twice = fleet.ctl_words({"silence", "expire", bare});
  CHECK(twice.status.exited_with(1));
  CHECK(twice.errors.find("already ended") != std::string::npos);
  CHECK(fleet.ctl_words({"silence", "list"}).output.find("(no silences)") != std::string::npos);

  // `medicctl silences` is short for `silence list`.
  const auto alias = fleet.ctl_words({"silences"});
  CHECK(alias.status.exited_with(0));
  CHECK(alias.output.find("(no silences)") != std::string::npos);
}
