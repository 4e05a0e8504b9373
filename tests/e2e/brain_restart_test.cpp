// SPDX-License-Identifier: Apache-2.0
// The brain's state across a coordinator restart, with real processes: a recovery waiting for
// approval is still waiting after the restart, and approving it then runs it.
#include <signal.h>

#include <chrono>

#include <catch2/catch.hpp>

#include "tests/e2e/brain_helpers.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;
using namespace medic::test::brain;

TEST_CASE("a pending approval survives a coordinator restart and can still be approved") {
  Fleet fleet;
  TestService service(fleet, "medic-restart-svc");
  const std::string config = coordinator_config(write_rules(fleet, "auto"));
  start_watching(fleet, service, "db-1", "db", "high", config);
  INFO(fleet.logs());
  REQUIRE(service.crash());

  std::uint64_t id = 0;
  REQUIRE(medic::test::wait_until(
      [&] {
        const auto answer = fleet.ctl("approvals");
        if (!answer || answer->value("approvals", json::array()).empty()) {
          return false;
        }
        id = answer->at("approvals").at(0).value("id", std::uint64_t{0});
        return true;
      },
      20s, 200ms));

  REQUIRE(fleet.stop_coordinator());
  fleet.start_coordinator(fleet.endpoint(), config);
  const auto after = fleet.ctl("approvals");
  REQUIRE(after);
  INFO(after->dump());
  REQUIRE(after->value("approvals", json::array()).size() == 1);
  CHECK(after->at("approvals").at(0).value("id", std::uint64_t{0}) == id);
  CHECK(after->at("approvals").at(0).value("action", "") == "start-svc");
  CHECK_FALSE(service.running());

  REQUIRE(medic::test::wait_until([&] { return fleet.agent("db-1").has_value(); }, 15s));
  const auto approved = fleet.ctl_words({"approve", std::to_string(id)});
  INFO(approved.output << approved.errors);
  REQUIRE(approved.status.exited_with(0));
  REQUIRE(medic::test::wait_until([&] { return service.running(); }, 20s, 50ms));
}
