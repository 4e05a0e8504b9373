// SPDX-License-Identifier: Apache-2.0
// learn: the Learner's maps, their bounds, snapshot/restore, effectiveness figures and keys.
#include <catch2/catch.hpp>

#include "coordinator/learn/learner.hpp"
#include "shared/config/schema.hpp"

namespace learn = medic::coordinator::learn;

namespace {

learn::Outcome outcome(std::string action, bool success, std::string risk = "low") {
  learn::Outcome o;
  o.diagnosis = "crashed-service";
  o.action = std::move(action);
  o.fingerprint = "fp-1";
  o.risk = std::move(risk);
  o.prior_success = 0.8;
  o.prior_weight = 5;
  o.success = success;
  o.time_to_recover_ms = 2000;
  return o;
}

} // namespace

TEST_CASE("learner: an outcome updates posterior, pattern and effectiveness", "[learn]") {
  learn::Learner learner;
  CHECK(learner.find_posterior("crashed-service", "restart") == nullptr);
  CHECK(learner.posterior("crashed-service", "restart", 0.8, 5).alpha == Approx(4));
  learner.record_outcome(outcome("restart", true), 100);
  learner.record_outcome(outcome("restart", false), 200);
  const auto* p = learner.find_posterior("crashed-service", "restart");
  REQUIRE(p != nullptr);
  CHECK(p->alpha == Approx(5));
  CHECK(p->beta == Approx(2));
  const auto* pattern = learner.find_pattern("fp-1");
  REQUIRE(pattern != nullptr);
  CHECK(pattern->recoveries == 2);
  CHECK(pattern->actions_tried == std::vector<std::string>{"restart"});
  const auto figures = learner.effectiveness().figures();
  REQUIRE(figures.per_action.size() == 1);
  CHECK(figures.per_action[0].rate() == Approx(0.5));
}

TEST_CASE("learner: maps are bounded and evict the least recently used", "[learn]") {
  learn::LearnConfig config;
  config.max_posteriors = 2;
  config.max_patterns = 2;
  config.max_baselines = 2;
  learn::Learner learner(config);
  auto a = outcome("a", true);
  auto b = outcome("b", true);
  auto c = outcome("c", true);
  learner.record_outcome(a, 1);
  learner.record_outcome(b, 2);
  learner.record_outcome(a, 3); // a is now the most recent
  learner.record_outcome(c, 4); // evicts b
  CHECK(learner.posterior_count() == 2);
  CHECK(learner.find_posterior("crashed-service", "a") != nullptr);
  CHECK(learner.find_posterior("crashed-service", "b") == nullptr);
  CHECK(learner.counters().posterior_evictions == 1);
  for (int i = 0; i < 5; ++i) {
    learner.pattern_seen("fp-x" + std::to_string(i), "r", i);
    learner.add_sample("h" + std::to_string(i), "cpu", 1, i);
  }
  CHECK(learner.pattern_count() == 2);
  CHECK(learner.baseline_count() == 2);
  CHECK(learner.counters().pattern_evictions == 4); // fp-1 and fp-x0..2
  CHECK(learner.counters().baseline_evictions == 3);
  CHECK_FALSE(learner.add_sample("h", "cpu", std::nan(""), 9));
  CHECK(learner.counters().samples_ignored == 1);
}

TEST_CASE("learner: snapshot and restore round-trip in eviction order", "[learn]") {
  learn::Learner learner;
  learner.record_outcome(outcome("restart", true), 100);
  learner.record_outcome(outcome("reload", false, "medium"), 150);
  learner.pattern_seen("fp-2", "disk", 120);
  learner.add_sample("web-1", "cpu.usage_pct", 40, 130);
  learner.effectiveness().incident_opened(0, 500);
  const auto snapshot = learner.snapshot();
  CHECK(snapshot.posteriors.size() == 2);
  CHECK(snapshot.posteriors.back().action == "reload"); // most recent last
  learn::Learner restored;
  REQUIRE(restored.restore(snapshot));
  CHECK(restored.snapshot() == snapshot);
  CHECK(restored.effectiveness().figures().mttd_ms == Approx(500));
}

TEST_CASE("learner: restore rejects a bad row and keeps what it had", "[learn]") {
  learn::Learner learner;
  learner.record_outcome(outcome("restart", true), 100);
  auto snapshot = learner.snapshot();
  snapshot.posteriors.push_back({"crashed-service", "bad", learn::Posterior{.alpha = -1}});
  const auto result = learner.restore(snapshot);
  REQUIRE_FALSE(result);
  CHECK(result.error().message().find("posteriors[1]") != std::string::npos);
  CHECK(result.error().message().find("action 'bad'") != std::string::npos);
  CHECK(learner.posterior_count() == 1);
}

TEST_CASE("effectiveness: figures on a scripted history", "[learn]") {
  learn::Effectiveness eff;
  // Four incidents: detected 1 s, 3 s, 2 s, 2 s after their first signal.
  eff.incident_opened(0, 1000);
  eff.incident_opened(10'000, 13'000);
  eff.incident_opened(20'000, 22'000);
  eff.incident_opened(30'000, 32'000);
  // Three resolved, after 60 s, 120 s, 30 s; two of them by medic's actions.
  eff.incident_resolved(1000, 61'000, learn::Resolution::automatic);
  eff.incident_resolved(13'000, 133'000, learn::Resolution::automatic);
  eff.incident_resolved(22'000, 52'000, learn::Resolution::other);
  eff.escalated();
  eff.marked_false();
  eff.recovery("restart", "low", true);
  eff.recovery("restart", "low", true);
  eff.recovery("restart", "low", false);
  eff.recovery("reboot", "critical", true);
  eff.recovery("odd", "weird", false);
  const auto f = eff.figures();
  CHECK(f.opened == 4);
  CHECK(f.mttd_ms == Approx(2000));
  CHECK(f.mttr_ms == Approx(70'000));
  CHECK(f.automated_recovery_rate == Approx(2.0 / 3.0));
  CHECK(f.escalation_rate == Approx(0.25));
  CHECK(f.false_positive_rate == Approx(0.25));
  CHECK(f.recovery_success_rate == Approx(3.0 / 5.0));
  REQUIRE(f.per_action.size() == 3);
  CHECK(f.per_action[0].name == "odd");
  CHECK(f.per_action[2].name == "restart");
  CHECK(f.per_action[2].rate() == Approx(2.0 / 3.0));
  REQUIRE(f.per_risk.size() == 3);
  CHECK(f.per_risk[0].name == "low");
  CHECK(f.per_risk[1].name == "critical");
  CHECK(f.per_risk[2].name == "unknown");
}

TEST_CASE("effectiveness: an empty history gives zeros, not NaN", "[learn]") {
  const auto f = learn::Effectiveness().figures();
  CHECK(f.mttd_ms == 0);
  CHECK(f.mttr_ms == 0);
  CHECK(f.automated_recovery_rate == 0);
  CHECK(f.recovery_success_rate == 0);
}

TEST_CASE("learn config: keys load and a bad decimal says which key", "[learn]") {
  learn::LearnConfig config;
  medic::config::Schema schema("MEDIC_TEST_");
  learn::add_learn_keys(schema, config);
  REQUIRE(schema.load_text("learn:\n  lower_bound_sd: 2.5\n  baseline_span: 9\n", "t.yaml"));
  REQUIRE(learn::finish_learn(config));
  CHECK(config.lower_bound_sd == 2.5);
  CHECK(config.baseline_weight() == Approx(0.2));
  const auto bad = schema.load_text("learn:\n  lower_bound_sd: lots\n", "t.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("lower_bound_sd") != std::string::npos);
  CHECK(bad.error().message().find("not a decimal") != std::string::npos);
}

TEST_CASE("learner: the diagnosis key is the root cause, else the rule", "[learn]") {
  medic::coordinator::diagnose::Diagnosis d;
  d.rule_id = "r1";
  CHECK(learn::diagnosis_key(d) == "r1");
  d.root_cause = "disk-filling";
  CHECK(learn::diagnosis_key(d) == "disk-filling");
}
