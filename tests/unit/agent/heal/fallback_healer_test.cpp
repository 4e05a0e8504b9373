// SPDX-License-Identifier: Apache-2.0
// The fallback engine: when local rules act, retries of a target that stays down, refusals
// reported once, parameters filled from the signal's labels.
#include "agent/heal/fallback_healer.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/allocation_counter.hpp"

using namespace medic::agent::heal;
using namespace std::chrono_literals;
namespace protocol = medic::protocol;
using Kind = HealDecision::Kind;

namespace {

constexpr std::uint64_t k_seed = 7;
constexpr LinkState k_up{true, 0};
constexpr LinkState k_down_since_0{false, 0};

HealConfig config_with(std::vector<HealRule> rules) {
  HealConfig config;
  config.rules = std::move(rules);
  config.fallback_after = 10s;
  config.budget.backoff_base = 5s;
  config.budget.backoff_max = 60s;
  config.budget.jitter = 0;
  config.budget.max_attempts = 3;
  config.budget.healthy_for = 60s;
  config.budget.flap_cycles = 3;
  config.budget.flap_window = 10min;
  return config;
}

HealRule restart_web() {
  return {"restart-web",
          "process-down",
          {{"process", "web"}},
          "restart-service",
          {{"unit", "{label:process}.service"}},
          false,
          {}};
}

protocol::Signal signal(protocol::SignalState state, std::string fingerprint = "fp-web",
                        std::string process = "web") {
  protocol::Signal s;
  s.rule = "process-down";
  s.state = state;
  s.fingerprint = std::move(fingerprint);
  s.labels = {{"host", "h1"}, {"process", std::move(process)}};
  return s;
}

const protocol::Signal k_fire = signal(protocol::SignalState::firing);
const protocol::Signal k_clear = signal(protocol::SignalState::cleared);

std::vector<Kind> kinds(const std::vector<HealDecision>& decisions) {
  std::vector<Kind> out;
  for (const auto& d : decisions) {
    out.push_back(d.kind);
  }
  return out;
}

} // namespace

TEST_CASE("a matching rule acts once the coordinator is unreachable for fallback_after",
          "[heal][heal-engine]") {
  FallbackHealer healer(config_with({restart_web()}), k_seed);
  SECTION("connected: the coordinator decides") {
    CHECK(healer.on_signal(k_fire, k_up, 20'000).empty());
    CHECK(healer.tick(k_up, 30'000).empty());
  }
  SECTION("disconnected long enough: runs at once, parameters filled in") {
    const auto decisions = healer.on_signal(k_fire, k_down_since_0, 10'000);
    REQUIRE(decisions.size() == 1);
    const HealDecision& d = decisions[0];
    CHECK(d.kind == Kind::run);
    CHECK(d.rule_id == "restart-web");
    CHECK(d.signal_rule == "process-down");
    CHECK(d.action == "restart-service");
    CHECK(d.target == "fp-web");
    CHECK(d.params == std::vector<protocol::Label>{{"unit", "web.service"}});
    CHECK(d.attempt == 1);
    CHECK(d.reason == "attempt 1: coordinator unreachable for 10.0s");
    CHECK_FALSE(d.dry_run);
  }
  SECTION("a target firing before the link went down is acted on when fallback_after passes") {
    CHECK(healer.on_signal(k_fire, k_up, 1000).empty());
    const LinkState down{false, 5000};
    CHECK(healer.tick(down, 14'999).empty());
    CHECK(kinds(healer.tick(down, 15'000)) == std::vector<Kind>{Kind::run});
    CHECK(healer.tick(down, 15'001).empty()); // cooling down: not reported from a tick
  }
  SECTION("a signal whose labels do not match is ignored and not tracked") {
    const auto other = signal(protocol::SignalState::firing, "fp-db", "db");
    CHECK(healer.on_signal(other, k_down_since_0, 20'000).empty());
    CHECK(healer.tracked() == 0);
  }
}

TEST_CASE("a rule marked always acts while connected", "[heal][heal-engine]") {
  HealRule rule = restart_web();
  rule.always = true;
  FallbackHealer healer(config_with({rule}), k_seed);
  const auto decisions = healer.on_signal(k_fire, k_up, 1000);
  REQUIRE(kinds(decisions) == std::vector<Kind>{Kind::run});
  CHECK(decisions[0].reason == "attempt 1: the rule acts always");
}

TEST_CASE("a target that stays down is retried after each backoff, then needs a person",
          "[heal][heal-engine]") {
  FallbackHealer healer(config_with({restart_web()}), k_seed);
  REQUIRE(kinds(healer.on_signal(k_fire, k_down_since_0, 10'000)) == std::vector<Kind>{Kind::run});
  healer.on_action_done("fp-web", "restart-service", true, 10'500); // exit 0 proves nothing
  // Backoff 5 s from the end of the run: 15 500.
  CHECK(healer.tick(k_down_since_0, 15'499).empty());
  auto second = healer.tick(k_down_since_0, 15'500);
  REQUIRE(kinds(second) == std::vector<Kind>{Kind::run});
  CHECK(second[0].attempt == 2);
  healer.on_action_done("fp-web", "restart-service", true, 15'500);
  // 10 s more: 25 500.
  CHECK(healer.tick(k_down_since_0, 25'499).empty());
  auto third = healer.tick(k_down_since_0, 25'500);
  REQUIRE(kinds(third) == std::vector<Kind>{Kind::run});
  CHECK(third[0].attempt == 3);
  healer.on_action_done("fp-web", "restart-service", false, 25'500);
  // Third backoff (20 s) over, 3 attempts spent: needs a person, reported once.
  CHECK(healer.tick(k_down_since_0, 45'499).empty());
  auto spent = healer.tick(k_down_since_0, 45'500);
  REQUIRE(kinds(spent) == std::vector<Kind>{Kind::needs_person});
  CHECK_THAT(spent[0].reason, Catch::StartsWith("3 attempts"));
  CHECK(spent[0].attempt == 3);
  CHECK(healer.tick(k_down_since_0, 46'000).empty());
  CHECK(healer.tick(k_down_since_0, 1'000'000).empty());
  // A clear and a re-fire does not un-latch it, nor report it again.
  CHECK(healer.on_signal(k_clear, k_down_since_0, 1'000'000).empty());
  CHECK(healer.on_signal(k_fire, k_down_since_0, 1'010'000).empty()); // healthy 10 s only
  CHECK(healer.budget().entries()[0].needs_person);

  healer.reconnected();
  CHECK_FALSE(healer.budget().entries()[0].needs_person);
  const LinkState down_again{false, 3'000'000};
  auto after = healer.tick(down_again, 3'010'000);
  REQUIRE(kinds(after) == std::vector<Kind>{Kind::run});
  CHECK(after[0].attempt == 4); // the backoff exponent stayed: never proven healthy
}

TEST_CASE("a new fire during the backoff is reported skipped once", "[heal][heal-engine]") {
  FallbackHealer healer(config_with({restart_web()}), k_seed);
  REQUIRE(kinds(healer.on_signal(k_fire, k_down_since_0, 10'000)) == std::vector<Kind>{Kind::run});
  healer.on_action_done("fp-web", "restart-service", true, 10'000);
  CHECK(healer.on_signal(k_clear, k_down_since_0, 11'000).empty());
  const auto refire = healer.on_signal(k_fire, k_down_since_0, 12'000);
  REQUIRE(kinds(refire) == std::vector<Kind>{Kind::skipped});
  CHECK(refire[0].retry_at_ms == 15'000);
  CHECK_THAT(refire[0].reason, Catch::StartsWith("cooling down after attempt 1"));
  CHECK(healer.tick(k_down_since_0, 13'000).empty());
  CHECK(kinds(healer.tick(k_down_since_0, 15'000)) == std::vector<Kind>{Kind::run});
}

TEST_CASE("health for healthy_for resets the budget, a clear is not enough",
          "[heal][heal-engine]") {
  FallbackHealer healer(config_with({restart_web()}), k_seed);
  const auto attempt_of = [&](std::int64_t at) {
    auto d = healer.on_signal(k_fire, k_down_since_0, at);
    REQUIRE(kinds(d) == std::vector<Kind>{Kind::run});
    healer.on_action_done("fp-web", "restart-service", true, at);
    return d[0].attempt;
  };
  CHECK(attempt_of(10'000) == 1);
  CHECK(healer.on_signal(k_clear, k_down_since_0, 12'000).empty());
  CHECK(attempt_of(70'000) == 2); // healthy 58 s only
  CHECK(healer.on_signal(k_clear, k_down_since_0, 80'000).empty());
  CHECK(attempt_of(140'000) == 1); // healthy 60 s: a fresh budget
}

TEST_CASE("a flapping target is not acted on and is reported once", "[heal][heal-engine]") {
  FallbackHealer healer(config_with({restart_web()}), k_seed);
  // Connected: no action, but the budget sees the cycles.
  for (std::int64_t at : {0, 10'000, 20'000, 30'000}) {
    CHECK(healer.on_signal(k_fire, k_up, at).empty());
    CHECK(healer.on_signal(k_clear, k_up, at + 1000).empty());
  }
  const LinkState down{false, 40'000};
  const auto fired = healer.on_signal(k_fire, down, 50'000);
  REQUIRE(kinds(fired) == std::vector<Kind>{Kind::flapping});
  CHECK_THAT(fired[0].reason, Catch::Contains("more than 3 times"));
  CHECK(healer.tick(down, 51'000).empty());
  CHECK(healer.on_signal(k_clear, down, 52'000).empty());
  CHECK(healer.on_signal(k_fire, down, 53'000).empty());
}

TEST_CASE("a parameter naming a label the signal lacks is skipped once", "[heal][heal-engine]") {
  HealRule rule = restart_web();
  rule.params = {{"unit", "{label:unit}"}};
  FallbackHealer healer(config_with({rule}), k_seed);
  const auto decisions = healer.on_signal(k_fire, k_down_since_0, 10'000);
  REQUIRE(kinds(decisions) == std::vector<Kind>{Kind::skipped});
  CHECK(decisions[0].reason == "params.unit: the signal has no label 'unit'");
  CHECK(healer.tick(k_down_since_0, 11'000).empty());
  CHECK(healer.budget().entries().empty()); // nothing was attempted
}

TEST_CASE("dry-run decisions are marked and still spend the budget", "[heal][heal-engine]") {
  HealConfig config = config_with({restart_web()});
  config.dry_run = true;
  FallbackHealer healer(config, k_seed);
  const auto decisions = healer.on_signal(k_fire, k_down_since_0, 10'000);
  REQUIRE(kinds(decisions) == std::vector<Kind>{Kind::run});
  CHECK(decisions[0].dry_run);
  CHECK(healer.budget().entries().at(0).attempts == 1);
}

TEST_CASE("a cleared target is not retried, two rules with one action run it once",
          "[heal][heal-engine]") {
  HealRule second = restart_web();
  second.id = "restart-web-too";
  second.match.clear();
  FallbackHealer healer(config_with({restart_web(), second}), k_seed);
  const auto decisions = healer.on_signal(k_fire, k_down_since_0, 10'000);
  REQUIRE(kinds(decisions) == std::vector<Kind>{Kind::run});
  CHECK(decisions[0].rule_id == "restart-web");
  healer.on_action_done("fp-web", "restart-service", true, 10'000);
  CHECK(healer.on_signal(k_clear, k_down_since_0, 11'000).empty());
  CHECK(healer.tick(k_down_since_0, 100'000).empty());
}

TEST_CASE("the engine follows at most max_targets signals", "[heal][heal-engine]") {
  HealRule rule = restart_web();
  rule.match.clear();
  FallbackHealer healer(config_with({rule}), k_seed, 8);
  for (int i = 0; i < 50; ++i) {
    const auto s =
        signal(protocol::SignalState::firing, "fp" + std::to_string(i), "p" + std::to_string(i));
    CHECK(kinds(healer.on_signal(s, k_down_since_0, 10'000 + i)) == std::vector<Kind>{Kind::run});
    CHECK(healer.tracked() <= 8);
    CHECK(healer.budget().targets() <= 8);
  }
}

TEST_CASE("a tick over waiting and spent targets allocates nothing", "[heal][heal-engine]") {
  if (!medic::test::allocation_counting_works()) {
    WARN("operator new is replaced elsewhere in this executable: allocation counts skipped");
    return;
  }
  HealRule rule = restart_web();
  rule.match.clear();
  rule.max_attempts = 1;
  FallbackHealer healer(config_with({rule}), k_seed);
  for (int i = 0; i < 20; ++i) {
    const auto s =
        signal(protocol::SignalState::firing, "fp" + std::to_string(i), "p" + std::to_string(i));
    REQUIRE(healer.on_signal(s, k_down_since_0, 10'000 + i * 1000).size() == 1);
    healer.on_action_done(s.fingerprint, "restart-service", false, 10'000 + i * 1000);
  }
  // Now: the first targets are spent (reported once here), the last ones still cooling down.
  REQUIRE_FALSE(healer.tick(k_down_since_0, 20'000).empty());
  const std::size_t allocations = medic::test::allocations_in([&] {
    for (std::int64_t now = 20'001; now < 21'000; ++now) {
      CHECK(healer.tick(k_down_since_0, now).empty());
    }
  });
  CHECK(allocations == 0);
}

TEST_CASE("the action's cooldown holds a local run back beyond the backoff",
          "[heal][heal-engine][cooldown]") {
  FallbackHealer healer(config_with({restart_web()}), k_seed);
  std::int64_t blocked_until = 0;
  std::vector<std::string> asked;
  healer.set_cooldown_gate(
      [&](const std::string& action, const std::vector<protocol::Label>& params, std::int64_t) {
        asked.push_back(action + " " + params.at(0).value);
        return blocked_until;
      });
  REQUIRE(kinds(healer.on_signal(k_fire, k_down_since_0, 10'000)) == std::vector<Kind>{Kind::run});
  CHECK(asked == std::vector<std::string>{"restart-service web.service"});
  healer.on_action_done("fp-web", "restart-service", true, 10'500);
  blocked_until = 40'000; // the catalog's cooldown (30 s) outlasts the backoff (5 s)
  CHECK(healer.tick(k_down_since_0, 15'500).empty());
  const std::size_t asked_then = asked.size();
  CHECK(healer.tick(k_down_since_0, 39'999).empty());
  CHECK(asked.size() == asked_then); // the wait sits in the budget: ticks ask nothing
  auto second = healer.tick(k_down_since_0, 40'000);
  REQUIRE(kinds(second) == std::vector<Kind>{Kind::run});
  CHECK(second[0].attempt == 2); // waiting for the cooldown is not an attempt
}

TEST_CASE("a fire while another path's cooldown runs is reported skipped once",
          "[heal][heal-engine][cooldown]") {
  FallbackHealer healer(config_with({restart_web()}), k_seed);
  healer.set_cooldown_gate([](const std::string&, const std::vector<protocol::Label>&,
                              std::int64_t) -> std::int64_t { return 70'000; });
  const auto decisions = healer.on_signal(k_fire, k_down_since_0, 10'000);
  REQUIRE(kinds(decisions) == std::vector<Kind>{Kind::skipped});
  CHECK(decisions[0].retry_at_ms == 70'000);
  CHECK_THAT(decisions[0].reason, Catch::Contains("cooldown of 'restart-service'"));
  CHECK(decisions[0].params.size() == 1);
  CHECK(healer.tick(k_down_since_0, 20'000).empty());
  CHECK(healer.budget().entries().at(0).attempts == 0);
}
