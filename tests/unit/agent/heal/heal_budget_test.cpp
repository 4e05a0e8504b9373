// SPDX-License-Identifier: Apache-2.0
// The remediation budget: backoff, attempts per window, needs-person latch, reset only after
// proven health, flapping, bounded memory, persistence as plain entries.
#include "agent/heal/heal_budget.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace medic::agent::heal;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t k_seed = 42;
constexpr BudgetKey k_web{"fp-web", "restart"};

// base 1 s, max 8 s, no jitter, 5 attempts per hour, healthy after 60 s.
BudgetSettings plain() {
  BudgetSettings s;
  s.backoff_base = 1s;
  s.backoff_max = 8s;
  s.jitter = 0;
  s.max_attempts = 5;
  s.window = 1h;
  s.healthy_for = 60s;
  s.flap_cycles = 3;
  s.flap_window = 60s;
  return s;
}

// Attempts at each moment the backoff allows, starting at `start`; returns their times.
std::vector<std::int64_t> attempt_until_refused(HealBudget& budget, std::int64_t start) {
  std::vector<std::int64_t> times;
  std::int64_t now = start;
  while (budget.check(k_web, now).gate == Gate::allowed) {
    times.push_back(now);
    const std::int64_t next = budget.record_attempt(k_web, now);
    budget.record_done(k_web, now); // an instant action: the backoff counts from the attempt
    now = next;
  }
  return times;
}

} // namespace

TEST_CASE("backoff doubles from the base and stops at the max", "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed);
  CHECK(budget.base_delay_ms(1) == 1000);
  CHECK(budget.base_delay_ms(2) == 2000);
  CHECK(budget.base_delay_ms(3) == 4000);
  CHECK(budget.base_delay_ms(4) == 8000);
  CHECK(budget.base_delay_ms(5) == 8000);
  CHECK(budget.base_delay_ms(4'000'000'000U) == 8000); // no overflow, no long loop
}

TEST_CASE("without jitter the attempts follow the hand-computed schedule, then stop",
          "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed);
  budget.target_fired("fp-web", 0);
  // 0, +1 s, +2 s, +4 s, +8 s: five attempts, then exhausted once the last backoff (8 s) ends.
  CHECK(attempt_until_refused(budget, 0) == std::vector<std::int64_t>{0, 1000, 3000, 7000, 15000});
  const Verdict waiting = budget.check(k_web, 22'999);
  CHECK(waiting.gate == Gate::cooling_down);
  CHECK(waiting.retry_at_ms == 23'000);
  CHECK(waiting.attempts == 5);
  const Verdict spent = budget.check(k_web, 23'000);
  CHECK(spent.gate == Gate::exhausted);
  CHECK(spent.attempts == 5);
}

TEST_CASE("jitter keeps each wait within [1-j, 1+j] of the plain backoff, reproducibly",
          "[heal][heal-budget]") {
  BudgetSettings settings = plain();
  settings.jitter = 0.2;
  settings.max_attempts = 50;
  HealBudget a(settings, k_seed);
  HealBudget b(settings, k_seed);
  HealBudget c(settings, k_seed + 1);
  std::int64_t now_a = 0, now_b = 0, now_c = 0;
  bool any_differs = false;
  bool any_jittered = false;
  for (std::uint32_t n = 1; n <= 40; ++n) {
    const std::int64_t next_a = a.record_attempt(k_web, now_a);
    const auto delay = static_cast<double>(next_a - now_a);
    const auto plain_delay = static_cast<double>(a.base_delay_ms(n));
    INFO("attempt " << n << " waited " << delay);
    CHECK(delay >= 0.8 * plain_delay - 1);
    CHECK(delay <= 1.2 * plain_delay + 1);
    any_jittered = any_jittered || delay != plain_delay;
    const std::int64_t next_b = b.record_attempt(k_web, now_b);
    CHECK(next_b - now_b == next_a - now_a); // same seed, same waits
    const std::int64_t next_c = c.record_attempt(k_web, now_c);
    any_differs = any_differs || next_c - now_c != next_a - now_a;
    now_a = next_a;
    now_b = next_b;
    now_c = next_c;
  }
  CHECK(any_jittered);
  CHECK(any_differs);
}

TEST_CASE("at most max_attempts per window, a window that ends frees the count",
          "[heal][heal-budget]") {
  BudgetSettings settings = plain();
  settings.max_attempts = 2;
  settings.window = 10s;
  HealBudget budget(settings, k_seed);
  budget.target_fired("fp-web", 0);
  budget.record_attempt(k_web, 0);
  budget.record_attempt(k_web, 1000); // window began at 0; backoff until 3000
  budget.record_done(k_web, 1000);
  CHECK(budget.check(k_web, 9999).gate == Gate::exhausted);
  CHECK(budget.check(k_web, 10'000).gate == Gate::allowed); // the window of attempt 1 ended
  // A rule's own limit overrides the setting.
  CHECK(budget.check(k_web, 9999, 3U).gate == Gate::allowed);
  budget.record_attempt(k_web, 10'000);
  const auto entries = budget.entries();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].window_start_ms == 10'000);
  CHECK(entries[0].window_attempts == 1);
  CHECK(entries[0].attempts == 3); // the backoff still grows: the target never got healthy
  CHECK(entries[0].next_allowed_ms == 10'000 + 4000);
}

TEST_CASE("needs_person holds through health and time until reconnected()", "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed);
  budget.target_fired("fp-web", 0);
  attempt_until_refused(budget, 0);
  REQUIRE(budget.check(k_web, 23'000).gate == Gate::exhausted);
  budget.mark_needs_person(k_web);
  budget.target_cleared("fp-web", 30'000);
  budget.settle(10'000'000); // healthy for hours, window long over
  CHECK(budget.check(k_web, 10'000'000).gate == Gate::exhausted);
  budget.target_fired("fp-web", 10'000'000);
  CHECK(budget.check(k_web, 20'000'000).gate == Gate::exhausted);
  budget.reconnected();
  CHECK(budget.check(k_web, 20'000'000).gate == Gate::allowed);
}

TEST_CASE("reconnected() clears the window count but not the backoff", "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed);
  budget.target_fired("fp-web", 0);
  attempt_until_refused(budget, 0);
  budget.mark_needs_person(k_web);
  budget.reconnected();
  const Verdict verdict = budget.check(k_web, 23'000);
  CHECK(verdict.gate == Gate::allowed);
  CHECK(verdict.attempts == 5);
  CHECK(budget.record_attempt(k_web, 23'000) == 23'000 + 8000);
}

TEST_CASE("only continuous health for healthy_for resets attempts and backoff",
          "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed);
  budget.target_fired("fp-web", 0);
  budget.record_attempt(k_web, 0);
  budget.record_attempt(k_web, 1000);
  budget.record_attempt(k_web, 3000); // backoff until 7000; 3 attempts
  budget.record_done(k_web, 3500);    // the action "succeeded": nothing resets
  CHECK(budget.check(k_web, 7500).attempts == 3);

  SECTION("a clear then a re-fire before healthy_for does not reset") {
    budget.target_cleared("fp-web", 10'000);
    budget.target_fired("fp-web", 69'999); // one ms short of 60 s healthy
    const Verdict verdict = budget.check(k_web, 80'000);
    CHECK(verdict.gate == Gate::allowed);
    CHECK(verdict.attempts == 3);
    CHECK(budget.record_attempt(k_web, 80'000) == 80'000 + 8000); // the 4th wait
  }
  SECTION("still healthy one ms short of healthy_for: no reset yet") {
    budget.target_cleared("fp-web", 10'000);
    CHECK(budget.check(k_web, 69'999).attempts == 3);
    budget.settle(69'999);
    CHECK(budget.entries()[0].attempts == 3);
  }
  SECTION("healthy for healthy_for: a fresh budget") {
    budget.target_cleared("fp-web", 10'000);
    budget.target_cleared("fp-web", 40'000); // a repeated clear does not restart the period
    const Verdict verdict = budget.check(k_web, 70'000);
    CHECK(verdict.gate == Gate::allowed);
    CHECK(verdict.attempts == 0);
    budget.target_fired("fp-web", 70'000);
    CHECK(budget.record_attempt(k_web, 70'000) == 70'000 + 1000); // back to the base wait
    CHECK(budget.entries()[0].attempts == 1);
  }
  SECTION("settle() applies the reset to the entries") {
    budget.target_cleared("fp-web", 10'000);
    budget.settle(70'000);
    const auto entries = budget.entries();
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].attempts == 0);
    CHECK(entries[0].window_attempts == 0);
    CHECK(entries[0].next_allowed_ms == 0);
  }
}

TEST_CASE("a run counts its backoff from its end at the earliest", "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed);
  budget.target_fired("fp-web", 0);
  CHECK(budget.record_attempt(k_web, 0) == 1000);
  CHECK(budget.check(k_web, 5000).gate == Gate::cooling_down); // still running
  budget.record_done(k_web, 5000);                             // a slow restart
  const Verdict verdict = budget.check(k_web, 5999);
  CHECK(verdict.gate == Gate::cooling_down);
  CHECK(verdict.retry_at_ms == 6000);
  CHECK(budget.check(k_web, 6000).gate == Gate::allowed);
}

TEST_CASE("more than flap_cycles fire/clear cycles within flap_window is flapping",
          "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed); // 3 cycles within 60 s
  const auto cycle = [&](std::int64_t at) {
    budget.target_fired("fp-web", at);
    budget.target_cleared("fp-web", at + 1000);
  };
  SECTION("4 cycles in 40 s") {
    for (std::int64_t at : {0, 10'000, 20'000}) {
      cycle(at);
    }
    CHECK(budget.check(k_web, 25'000).gate == Gate::allowed);
    cycle(30'000);
    CHECK(budget.check(k_web, 35'000).gate == Gate::flapping);
    budget.target_fired("fp-web", 40'000);
    CHECK(budget.check(k_web, 500'000).gate == Gate::flapping); // held
    budget.reconnected();
    CHECK(budget.check(k_web, 500'000).gate == Gate::allowed);
    cycle(510'000); // the history was cleared with the latch
    CHECK(budget.check(k_web, 520'000).gate == Gate::allowed);
  }
  SECTION("4 cycles spread over more than the window") {
    for (std::int64_t at : {0, 25'000, 50'000, 75'000}) {
      cycle(at);
    }
    CHECK(budget.check(k_web, 80'000).gate == Gate::allowed);
  }
  SECTION("a fire without a clear is no cycle") {
    for (std::int64_t at : {0, 10'000, 20'000, 30'000}) {
      budget.target_fired("fp-web", at);
    }
    budget.target_cleared("fp-web", 31'000);
    CHECK(budget.check(k_web, 35'000).gate == Gate::allowed);
  }
}

TEST_CASE("the budget holds at most `capacity` targets, forgetting idle ones first",
          "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed, 4);
  budget.target_fired("busy", 0);
  budget.record_attempt({"busy", "restart"}, 0);
  for (int i = 0; i < 10; ++i) {
    const std::string name = "t" + std::to_string(i);
    budget.target_fired(name, 1000 + i);
    budget.target_cleared(name, 2000 + i);
    budget.record_attempt({name, "restart"}, 2000 + i);
    budget.record_done({name, "restart"}, 2000 + i);
    CHECK(budget.targets() <= 4);
    CHECK(budget.keys() <= 4);
  }
  CHECK(budget.check({"busy", "restart"}, 500).gate == Gate::cooling_down); // kept: firing
  CHECK(budget.check({"t9", "restart"}, 2010).attempts == 1);
  CHECK(budget.check({"t0", "restart"}, 2010).attempts == 0); // forgotten
}

TEST_CASE("a restored attempt is no longer running", "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed);
  budget.target_fired("fp-web", 0);
  budget.record_attempt(k_web, 0); // the agent stopped before the run ended
  REQUIRE(budget.entries()[0].running);
  HealBudget restored(plain(), k_seed);
  restored.restore(budget.entries(), 500);
  CHECK_FALSE(restored.entries()[0].running);
  CHECK(restored.check(k_web, 999).gate == Gate::cooling_down);
  CHECK(restored.check(k_web, 1000).gate == Gate::allowed);
}

TEST_CASE("entries round-trip through restore()", "[heal][heal-budget]") {
  HealBudget budget(plain(), k_seed);
  budget.target_fired("fp-web", 0);
  attempt_until_refused(budget, 0);
  budget.mark_needs_person(k_web);
  budget.target_fired("fp-db", 100);
  budget.record_attempt({"fp-db", "restart"}, 100);
  budget.record_done({"fp-db", "restart"}, 200);
  budget.target_cleared("fp-db", 500);
  const auto saved = budget.entries();
  REQUIRE(saved.size() == 2);

  HealBudget restored(plain(), k_seed);
  restored.restore(saved, 1'000'000);
  auto again = restored.entries();
  REQUIRE(again.size() == 2);
  CHECK(again[0] == saved[0]);        // fp-db, cleared at 500
  CHECK(again[1].target == "fp-web"); // was firing: counts as healthy from the restore on
  CHECK(again[1].healthy_since_ms == 1'000'000);
  CHECK(again[1].needs_person);
  CHECK(again[1].attempts == 5);
  CHECK(restored.check(k_web, 2'000'000).gate == Gate::exhausted);
}
