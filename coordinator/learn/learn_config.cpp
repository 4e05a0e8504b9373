// SPDX-License-Identifier: Apache-2.0
#include "coordinator/learn/learn_config.hpp"

#include "coordinator/learn/number_key.hpp"

namespace medic::coordinator::learn {

void add_learn_keys(medic::config::Schema& schema, LearnConfig& config) {
  schema.add_integer<std::uint32_t>(
      "learn.max_posteriors", config.max_posteriors, 16, 10'000'000,
      "Learned success records per (diagnosis, action) kept; the least recently used is "
      "forgotten first (counted)");
  schema.add_integer<std::uint32_t>(
      "learn.max_patterns", config.max_patterns, 16, 10'000'000,
      "Error-pattern records (one per fingerprint) kept; the least recently seen is forgotten "
      "first (counted)");
  schema.add_integer<std::uint32_t>(
      "learn.max_baselines", config.max_baselines, 16, 10'000'000,
      "Metric baselines (one per host and metric) kept; the least recently updated is "
      "forgotten first (counted)");
  schema.add_integer<std::uint32_t>(
      "learn.max_actions", config.max_actions, 16, 1'000'000,
      "Actions with their own recovery success figures; the least recently used is forgotten "
      "first (the per-risk figures keep counting it)");
  schema.add_integer<std::uint32_t>(
      "learn.baseline_span", config.baseline_span, 1, 1'000'000,
      "A baseline follows about this many recent samples (exponential weight 2 / (span + 1))");
  add_decimal(schema, "learn.lower_bound_sd", config.lower_bound_sd, config.texts.lower_bound_sd, 0,
              10,
              "Earned autonomy judges an action by its learned success minus this many standard "
              "deviations (1.645: about a one-sided 95 % credible bound)");
}

Result<void> finish_learn(LearnConfig& /*config*/) {
  return {};
}

} // namespace medic::coordinator::learn
