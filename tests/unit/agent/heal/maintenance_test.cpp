// SPDX-License-Identifier: Apache-2.0
// The coordinator's POLICY on the agent: which fallback runs a freeze or a maintenance window
// holds back, version ordering, persistence in a real spool file, and the healer honouring it
// without spending budget.
#include "agent/heal/maintenance.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/heal/fallback_healer.hpp"
#include "agent/link/spool.hpp"
#include "tests/support/allocation_counter.hpp"
#include "tests/support/temp_dir.hpp"

using namespace medic::agent::heal;
using namespace std::chrono_literals;
namespace protocol = medic::protocol;
using Kind = HealDecision::Kind;

namespace {

protocol::Policy policy(std::uint64_t version, protocol::Freeze freeze,
                        std::vector<protocol::MaintenanceWindow> windows = {}) {
  return protocol::Policy{version, std::move(freeze), std::move(windows)};
}

protocol::MaintenanceWindow window(std::string id, std::int64_t start, std::int64_t end,
                                   std::vector<std::string> services = {}) {
  return protocol::MaintenanceWindow{std::move(id), start, end, std::move(services), "planned"};
}

const std::vector<protocol::Label> k_web_labels = {{"host", "h1"}, {"process", "web"}};
const std::vector<protocol::Label> k_web_params = {{"unit", "web.service"}};

std::string hold_text(const Maintenance& m, const std::vector<protocol::Label>& labels,
                      const std::vector<protocol::Label>& params, std::int64_t now) {
  return describe(m.holds(labels, params, now));
}

HealConfig always_restart_web() {
  HealConfig config;
  config.rules = {{"restart-web",
                   "process-down",
                   {{"process", "web"}},
                   "restart-service",
                   {{"unit", "{label:process}.service"}},
                   true, // always: acts even while the coordinator is connected
                   {}}};
  config.budget.backoff_base = 5s;
  config.budget.jitter = 0;
  config.budget.max_attempts = 3;
  return config;
}

protocol::Signal web_down() {
  protocol::Signal s;
  s.rule = "process-down";
  s.state = protocol::SignalState::firing;
  s.fingerprint = "fp-web";
  s.labels = k_web_labels;
  return s;
}

constexpr LinkState k_up{true, 0};

} // namespace

TEST_CASE("a window without services holds every run while it covers now", "[heal][maintenance]") {
  Maintenance m;
  REQUIRE(m.accept(policy(1, {}, {window("rack-move", 1000, 2000)})));
  CHECK(hold_text(m, k_web_labels, k_web_params, 999).empty());
  CHECK(hold_text(m, k_web_labels, k_web_params, 1000) == "maintenance window rack-move");
  CHECK(hold_text(m, {}, {}, 1999) == "maintenance window rack-move");
  CHECK(hold_text(m, k_web_labels, k_web_params, 2000).empty()); // end is exclusive
}

TEST_CASE("a window with services holds only runs that name one of them", "[heal][maintenance]") {
  Maintenance m;
  REQUIRE(m.accept(policy(1, {}, {window("db", 0, 10'000, {"postgres", "web.service"})})));
  // By a parameter value as filled in.
  CHECK(hold_text(m, k_web_labels, k_web_params, 5) == "maintenance window db");
  // By the signal's service, process or unit label.
  CHECK(hold_text(m, {{"service", "postgres"}}, {}, 5) == "maintenance window db");
  CHECK(hold_text(m, {{"process", "postgres"}}, {}, 5) == "maintenance window db");
  CHECK(hold_text(m, {{"unit", "postgres"}}, {}, 5) == "maintenance window db");
  // Other labels do not scope a window, nor does a value that only contains a service's name.
  CHECK(hold_text(m, {{"host", "postgres"}}, {}, 5).empty());
  CHECK(hold_text(m, {{"process", "web"}}, {{"unit", "nginx.service"}}, 5).empty());
  CHECK(hold_text(m, {{"process", "postgres-exporter"}}, {}, 5).empty());
}

TEST_CASE("the freeze holds everything until lifted or until its end", "[heal][maintenance]") {
  Maintenance m;
  SECTION("without until_ms: until a newer policy lifts it") {
    REQUIRE(m.accept(policy(1, {true, 0, "release"})));
    CHECK(m.frozen(1'000'000'000'000));
    CHECK(hold_text(m, {}, {}, 1'000'000'000'000) == "fleet freeze");
    REQUIRE(m.accept(policy(2, {false, 0, ""})));
    CHECK_FALSE(m.frozen(1'000'000'000'000));
    CHECK(hold_text(m, {}, {}, 1'000'000'000'000).empty());
  }
  SECTION("with until_ms: ends by itself") {
    REQUIRE(m.accept(policy(1, {true, 5000, ""})));
    CHECK(hold_text(m, {}, {}, 4999) == "fleet freeze");
    CHECK(hold_text(m, {}, {}, 5000).empty());
  }
  SECTION("reported before a window that also covers now") {
    REQUIRE(m.accept(policy(1, {true, 0, ""}, {window("w", 0, 100)})));
    CHECK(hold_text(m, {}, {}, 50) == "fleet freeze");
  }
  SECTION("off: nothing held") {
    REQUIRE(m.accept(policy(1, {false, 0, ""})));
    CHECK_FALSE(static_cast<bool>(m.holds({}, {}, 50)));
  }
}

TEST_CASE("only a newer policy version replaces the one held", "[heal][maintenance]") {
  Maintenance m;
  CHECK_FALSE(m.accept(policy(0, {true, 0, ""}))); // 0 is "none yet"
  REQUIRE(m.accept(policy(10, {true, 0, "newer"})));
  CHECK_FALSE(m.accept(policy(9, {false, 0, "stale"})));
  CHECK_FALSE(m.accept(policy(10, {false, 0, "replayed"})));
  CHECK(m.policy().freeze.reason == "newer");
  CHECK(m.frozen(1));
  CHECK(m.accept(policy(11, {false, 0, ""})));
  CHECK_FALSE(m.frozen(1));
  CHECK(m.summary() == "version 11, freeze off, 0 windows");
}

TEST_CASE("checking a hold allocates nothing", "[heal][maintenance]") {
  if (!medic::test::allocation_counting_works()) {
    WARN("allocation counting is not in effect in this build (sanitizer): skipped");
    return;
  }
  Maintenance m;
  std::vector<protocol::MaintenanceWindow> windows;
  for (int i = 0; i < 256; ++i) {
    windows.push_back(window("w" + std::to_string(i), 0, 100, {"svc-a", "svc-b"}));
  }
  REQUIRE(m.accept(policy(1, {}, std::move(windows))));
  bool held = true;
  CHECK(medic::test::allocations_in(
            [&] { held = static_cast<bool>(m.holds(k_web_labels, k_web_params, 50)); }) == 0);
  CHECK_FALSE(held);
}

TEST_CASE("the policy survives a spool reopen", "[heal][maintenance]") {
  medic::test::TempDir dir;
  const auto path = dir / "spool.db";
  const protocol::Policy saved =
      policy(1'700'000'000'555, {true, 1'700'000'900'000, "release freeze"},
             {window("db", 1, 2, {"postgres"}), window("host", 3, 4)});
  {
    auto spool = medic::agent::link::Spool::open(path, {});
    REQUIRE(spool);
    REQUIRE(Maintenance::create_table(spool->database()));
    auto none = Maintenance::load(spool->database());
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
    REQUIRE(Maintenance::save(spool->database(), policy(5, {})));
    REQUIRE(Maintenance::save(spool->database(), saved)); // replaces the earlier one
  }
  auto spool = medic::agent::link::Spool::open(path, {});
  REQUIRE(spool);
  REQUIRE(Maintenance::create_table(spool->database()));
  auto loaded = Maintenance::load(spool->database());
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK(**loaded == saved);

  // A damaged row is an error naming the table, not a silently lifted freeze.
  REQUIRE(spool->database().exec("UPDATE heal_policy SET frame = x'c1'"));
  auto damaged = Maintenance::load(spool->database());
  REQUIRE_FALSE(damaged);
  CHECK(damaged.error().message().find("heal_policy") != std::string::npos);
}

TEST_CASE("the healer holds an always rule during a window without spending budget",
          "[heal][maintenance]") {
  FallbackHealer healer(always_restart_web(), 1);
  REQUIRE(healer.maintenance().accept(policy(1, {}, {window("web-deploy", 1000, 5000, {"web"})})));

  auto held = healer.on_signal(web_down(), k_up, 2000);
  REQUIRE(held.size() == 1);
  CHECK(held[0].kind == Kind::held);
  CHECK(held[0].reason == "maintenance window web-deploy");
  CHECK(held[0].params == k_web_params);
  CHECK(to_string(held[0].kind) == "held");
  CHECK(healer.budget().entries().empty()); // no attempt recorded

  // Reported once per change of hold, not every tick.
  CHECK(healer.tick(k_up, 3000).empty());
  // A freeze replaces the window as the reason: news again.
  REQUIRE(
      healer.maintenance().accept(policy(2, {true, 0, ""}, {window("web-deploy", 1000, 5000)})));
  auto frozen = healer.tick(k_up, 3500);
  REQUIRE(frozen.size() == 1);
  CHECK(frozen[0].reason == "fleet freeze");

  // Lifted: the rule runs at its next tick, as attempt 1.
  REQUIRE(
      healer.maintenance().accept(policy(3, {false, 0, ""}, {window("web-deploy", 1000, 5000)})));
  CHECK(healer.tick(k_up, 4000).size() == 1); // the window still covers now
  auto ran = healer.tick(k_up, 5000);         // and ends here
  REQUIRE(ran.size() == 1);
  CHECK(ran[0].kind == Kind::run);
  CHECK(ran[0].attempt == 1);
}

TEST_CASE("a window for another service does not hold the healer", "[heal][maintenance]") {
  FallbackHealer healer(always_restart_web(), 1);
  REQUIRE(healer.maintenance().accept(policy(1, {}, {window("db", 0, 10'000, {"postgres"})})));
  auto decisions = healer.on_signal(web_down(), k_up, 2000);
  REQUIRE(decisions.size() == 1);
  CHECK(decisions[0].kind == Kind::run);
}
