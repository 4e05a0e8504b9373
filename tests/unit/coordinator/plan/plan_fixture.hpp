// SPDX-License-Identifier: Apache-2.0
// Shared set-up for the planner tests: a catalog, an incident with a diagnosis, a planner.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "coordinator/learn/learner.hpp"
#include "coordinator/plan/planner.hpp"

namespace medic::test::plan_fixture {

namespace plan = medic::coordinator::plan;
namespace diagnose = medic::coordinator::diagnose;
namespace learn = medic::coordinator::learn;

inline constexpr std::int64_t k_t0 = 1'800'000'000'000; // 2027-01-15, any fixed time will do
inline constexpr std::int64_t k_minute = 60'000;

inline medic::protocol::ActionSchema action(std::string name, std::string risk) {
  return medic::protocol::ActionSchema{std::move(name), std::move(risk), {}};
}

inline diagnose::Candidate candidate(std::string name, double prior = 0.5, std::string risk = "") {
  diagnose::Candidate c;
  c.action = std::move(name);
  c.prior_success = prior;
  c.prior_weight = 2;
  c.risk = std::move(risk);
  return c;
}

struct Fixture {
  std::vector<medic::protocol::ActionSchema> catalog{
      action("restart-service", "low"), action("clear-cache", "medium"),
      action("failover-db", "high"), action("reboot-host", "critical")};
  learn::Learner learner;
  plan::PlanConfig config;
  std::unique_ptr<plan::Planner> planner;

  Fixture() { rebuild(); }

  // After changing `config`.
  void rebuild() {
    REQUIRE(plan::finish_plan(config));
    planner = std::make_unique<plan::Planner>(config, learner);
  }

  plan::PlanContext context(std::vector<diagnose::Candidate> candidates,
                            diagnose::Automation automation = diagnose::Automation::auto_,
                            medic::coordinator::correlate::IncidentId id = 1,
                            std::string host = "web-1") const {
    plan::PlanContext c;
    c.incident.id = id;
    c.incident.host = std::move(host);
    c.incident.fingerprint = "fp-" + std::to_string(id);
    c.diagnosis.rule_id = "crashed-service-rule";
    c.diagnosis.root_cause = "crashed-service";
    c.diagnosis.automation = automation;
    c.diagnosis.candidates = std::move(candidates);
    c.catalog = &catalog;
    c.agent_connected = true;
    return c;
  }

  // Runs the decision's chosen action: started, then finished with `success`.
  plan::RecoveryKey run(const plan::PlanContext& c, const plan::Decision& d, bool success,
                        std::int64_t start_ms, std::int64_t end_ms) {
    REQUIRE(d.chosen);
    const auto key = plan::recovery_key(c, *d.chosen);
    planner->started(key, start_ms);
    planner->finished(key, success, end_ms);
    return key;
  }

  void learn_outcomes(const std::string& action, int successes, int failures, double prior = 0.5) {
    learn::Outcome o;
    o.diagnosis = "crashed-service";
    o.action = action;
    o.prior_success = prior;
    o.prior_weight = 2;
    for (int i = 0; i < successes + failures; ++i) {
      o.success = i < successes;
      learner.record_outcome(o, k_t0 + i);
    }
  }
};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace medic::test::plan_fixture
