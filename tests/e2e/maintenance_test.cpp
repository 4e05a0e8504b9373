// SPDX-License-Identifier: Apache-2.0
// Maintenance windows and the fleet freeze on the coordinator, with real processes: a real
// service crashes on a host in a window (or while the fleet is frozen) and the coordinator
// neither restarts it nor escalates; once the window is removed (the freeze lifted) it heals.
// Windows are written through: a restarted coordinator still has them.
#include <signal.h>

#include <chrono>

#include <catch2/catch.hpp>

#include "tests/e2e/brain_helpers.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;
using namespace medic::test::brain;

namespace {

std::uint64_t escalations(const Fleet& fleet) {
  const auto stats = fleet.ctl("stats");
  return stats ? stats->at("stats").value("escalations", std::uint64_t{0}) : 0;
}

// Kills the service and waits until the coordinator holds the incident, saying why.
json crash_and_wait_for_hold(Fleet& fleet, TestService& service, const std::string& why) {
  REQUIRE(service.crash());
  std::optional<json> incident;
  REQUIRE(medic::test::wait_until(
      [&] {
        incident = incident_with_rule(fleet, "process-down");
        if (!incident) {
          return false;
        }
        const auto shown = fleet.ctl_words(
            {"incident", "show", std::to_string(incident->value("id", std::uint64_t{0}))});
        return shown.output.find(why) != std::string::npos;
      },
      20s, 200ms));
  return *incident;
}

} // namespace

TEST_CASE("a maintenance window holds remediation and escalation until it is removed") {
  Fleet fleet;
  TestService service(fleet, "medic-mw-svc");
  const std::string config = coordinator_config(write_rules(fleet, "auto"));
  fleet.start_coordinator("tcp://127.0.0.1:*", config);
  fleet.start_connected_agent("web-1", agent_config(service, "web", "low"));
  INFO(fleet.logs());

  const std::string host = service.path.filename().string() + "-host";
  const auto added = fleet.ctl_words(
      {"maintenance", "add", "--host", host, "--for", "1h", "--reason", "kernel upgrade"});
  INFO(added.output);
  REQUIRE(added.status.exited_with(0));
  CHECK(added.output.find("mw-1") != std::string::npos);
  CHECK(added.output.find("kernel upgrade") != std::string::npos);

  // Written through: a coordinator restarted now still has the window.
  REQUIRE(fleet.stop_coordinator());
  fleet.start_coordinator(fleet.endpoint(), config);
  const auto listed = fleet.ctl_json({"maintenance", "list"});
  REQUIRE(listed);
  REQUIRE(listed->at("maintenance").at("windows").size() == 1);
  CHECK(listed->at("maintenance").at("windows").at(0).value("id", "") == "mw-1");
  REQUIRE(medic::test::wait_until([&] { return fleet.agent("web-1").has_value(); }, 15s));
  medic::test::sleep_for(1500ms); // the process sampler has seen the service up

  const json incident = crash_and_wait_for_hold(fleet, service, "maintenance window mw-1");
  medic::test::sleep_for(2s);
  CHECK_FALSE(service.running()); // not remediated in the window
  CHECK(escalations(fleet) == 0); // critical, yet not escalated: the window does not notify
  const auto shown =
      fleet.ctl_words({"incident", "show", std::to_string(incident.value("id", std::uint64_t{0}))});
  CHECK(shown.output.find("not escalated: maintenance window mw-1") != std::string::npos);

  const auto removed = fleet.ctl_words({"maintenance", "remove", "mw-1"});
  INFO(removed.output);
  REQUIRE(removed.status.exited_with(0));
  CHECK(removed.output.find("no maintenance windows") != std::string::npos);
  REQUIRE(medic::test::wait_until([&] { return service.running(); }, 20s, 50ms));
  CHECK(escalations(fleet) == 1); // critical_at_once, now that nobody is working on it

  const auto gone = fleet.ctl_words({"maintenance", "remove", "mw-1"});
  CHECK(gone.status.exited_with(1));
  CHECK(gone.errors.find("no maintenance window 'mw-1'") != std::string::npos);
}

TEST_CASE("a fleet freeze holds every remediation until it is lifted") {
  Fleet fleet;
  TestService service(fleet, "medic-freeze-svc");
  start_watching(fleet, service, "web-1", "web", "low",
                 coordinator_config(write_rules(fleet, "auto")));
  INFO(fleet.logs());

  const auto frozen = fleet.ctl_words({"freeze", "on", "--reason", "change freeze"});
  INFO(frozen.output);
  REQUIRE(frozen.status.exited_with(0));
  CHECK(frozen.output.find("fleet freeze: ON") != std::string::npos);

  crash_and_wait_for_hold(fleet, service, "the fleet is frozen (change freeze");
  medic::test::sleep_for(2s);
  CHECK_FALSE(service.running());
  CHECK(escalations(fleet) == 1); // the freeze stops hands, not the people's pager

  const auto lifted = fleet.ctl_words({"freeze", "off"});
  INFO(lifted.output);
  REQUIRE(lifted.status.exited_with(0));
  CHECK(lifted.output.find("fleet freeze: off") != std::string::npos);
  REQUIRE(medic::test::wait_until([&] { return service.running(); }, 20s, 50ms));
}

TEST_CASE("bad maintenance requests are refused with what is wrong") {
  Fleet fleet;
  fleet.start_coordinator();
  const auto no_scope = fleet.ctl_words({"maintenance", "add", "--for", "1h"});
  CHECK(no_scope.status.exited_with(1));
  CHECK(no_scope.errors.find("needs a host, a group or a service") != std::string::npos);
  const auto no_end = fleet.ctl_words({"maintenance", "add", "--host", "a"});
  CHECK(no_end.status.exited_with(2));
  CHECK(no_end.errors.find("--for") != std::string::npos);
  const auto bad_time =
      fleet.ctl_words({"maintenance", "add", "--host", "a", "--until", "tomorrow-ish"});
  CHECK(bad_time.status.exited_with(2));
  CHECK(bad_time.errors.find("is not a time") != std::string::npos);
  const auto past =
      fleet.ctl_words({"maintenance", "add", "--host", "a", "--start", "1000", "--until", "2000"});
  CHECK(past.status.exited_with(1));
  CHECK(past.errors.find("after now") != std::string::npos);
}
