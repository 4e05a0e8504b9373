// SPDX-License-Identifier: Apache-2.0
#include "coordinator/learn/learner.hpp"

#include <cmath>
#include <utility>

namespace medic::coordinator::learn {

namespace {

Error row_error(std::string_view list, std::size_t index, std::string_view key,
                std::string_view what) {
  return Error(ErrorCode::invalid_argument, std::string(list) + "[" + std::to_string(index) +
                                                "] (" + std::string(key) +
                                                "): " + std::string(what));
}

bool positive(double value) noexcept {
  return std::isfinite(value) && value > 0;
}

Result<void> check_posterior(const PosteriorRow& row, std::size_t index) {
  const std::string key = "diagnosis '" + row.diagnosis + "', action '" + row.action + "'";
  const Posterior& p = row.posterior;
  if (row.diagnosis.empty() || row.action.empty()) {
    return fail(row_error("posteriors", index, key, "diagnosis and action must not be empty"));
  }
  if (!positive(p.alpha) || !positive(p.beta)) {
    return fail(row_error("posteriors", index, key, "alpha and beta must be positive numbers"));
  }
  if (p.successes > p.attempts || !std::isfinite(p.recover_ms_total) || p.recover_ms_total < 0) {
    return fail(row_error("posteriors", index, key,
                          "successes exceed attempts or the recovery time is not a duration"));
  }
  return {};
}

Result<void> check_pattern(const ErrorPattern& row, std::size_t index) {
  const std::string key = "fingerprint '" + row.fingerprint + "'";
  if (row.fingerprint.empty()) {
    return fail(row_error("patterns", index, key, "the fingerprint must not be empty"));
  }
  if (row.recovery_successes > row.recoveries ||
      row.actions_tried.size() > ErrorPattern::k_max_actions) {
    return fail(row_error("patterns", index, key,
                          "more successes than recoveries, or more than 8 actions tried"));
  }
  return {};
}

Result<void> check_baseline(const BaselineRow& row, std::size_t index) {
  const std::string key = "host '" + row.host + "', metric '" + row.metric + "'";
  if (row.host.empty() || row.metric.empty()) {
    return fail(row_error("baselines", index, key, "host and metric must not be empty"));
  }
  const Baseline& b = row.baseline;
  if (!std::isfinite(b.mean) || !std::isfinite(b.variance) || b.variance < 0) {
    return fail(row_error("baselines", index, key,
                          "mean and variance must be finite, variance "
                          "not negative"));
  }
  return {};
}

Result<void> check_snapshot(const LearnerSnapshot& snapshot) {
  for (std::size_t i = 0; i < snapshot.posteriors.size(); ++i) {
    if (auto ok = check_posterior(snapshot.posteriors[i], i); !ok) {
      return ok;
    }
  }
  for (std::size_t i = 0; i < snapshot.patterns.size(); ++i) {
    if (auto ok = check_pattern(snapshot.patterns[i], i); !ok) {
      return ok;
    }
  }
  for (std::size_t i = 0; i < snapshot.baselines.size(); ++i) {
    if (auto ok = check_baseline(snapshot.baselines[i], i); !ok) {
      return ok;
    }
  }
  return {};
}

} // namespace

std::string diagnosis_key(const diagnose::Diagnosis& diagnosis) {
  return diagnosis.root_cause.empty() ? diagnosis.rule_id : diagnosis.root_cause;
}

Learner::Learner(LearnConfig config)
    : m_config(std::move(config)),
      m_posteriors(m_config.max_posteriors),
      m_patterns(m_config.max_patterns),
      m_baselines(m_config.max_baselines),
      m_effectiveness(m_config.max_actions) {}

void Learner::reconfigure(const LearnConfig& config) {
  m_config.baseline_span = config.baseline_span;
  m_config.lower_bound_sd = config.lower_bound_sd;
  m_config.texts = config.texts;
}

void Learner::record_outcome(const Outcome& outcome, std::int64_t now_ms) {
  PosteriorRow& row =
      m_posteriors.get_or_insert(join_key(outcome.diagnosis, outcome.action), [&outcome] {
        return PosteriorRow{outcome.diagnosis, outcome.action,
                            Posterior::from_prior(outcome.prior_success, outcome.prior_weight)};
      });
  row.posterior.record(outcome.success, outcome.time_to_recover_ms, now_ms);
  if (!outcome.fingerprint.empty()) {
    ErrorPattern& pattern = m_patterns.get_or_insert(outcome.fingerprint, [&outcome] {
      return ErrorPattern{.fingerprint = outcome.fingerprint};
    });
    pattern.recovered(outcome.action, outcome.success, now_ms);
  }
  m_effectiveness.recovery(outcome.action, outcome.risk, outcome.success);
}

Posterior Learner::posterior(std::string_view diagnosis, std::string_view action,
                             double prior_success, double prior_weight) const {
  if (const Posterior* learned = find_posterior(diagnosis, action)) {
    return *learned;
  }
  return Posterior::from_prior(prior_success, prior_weight);
}

const Posterior* Learner::find_posterior(std::string_view diagnosis,
                                         std::string_view action) const {
  const PosteriorRow* row = m_posteriors.peek(join_key(diagnosis, action));
  return row == nullptr ? nullptr : &row->posterior;
}

double Learner::lower_bound(const Posterior& posterior) const noexcept {
  return posterior.lower_bound(m_config.lower_bound_sd);
}

void Learner::pattern_seen(std::string_view fingerprint, std::string_view rule,
                           std::int64_t now_ms) {
  const std::string key(fingerprint);
  ErrorPattern& pattern =
      m_patterns.get_or_insert(key, [&key] { return ErrorPattern{.fingerprint = key}; });
  pattern.seen(rule, now_ms);
}

const ErrorPattern* Learner::find_pattern(std::string_view fingerprint) const {
  return m_patterns.peek(std::string(fingerprint));
}

bool Learner::add_sample(std::string_view host, std::string_view metric, double value,
                         std::int64_t now_ms) {
  if (!std::isfinite(value)) {
    ++m_samples_ignored;
    return false;
  }
  BaselineRow& row = m_baselines.get_or_insert(join_key(host, metric), [&] {
    return BaselineRow{std::string(host), std::string(metric), Baseline{}};
  });
  return row.baseline.add(value, m_config.baseline_weight(), now_ms);
}

const Baseline* Learner::find_baseline(std::string_view host, std::string_view metric) const {
  const BaselineRow* row = m_baselines.peek(join_key(host, metric));
  return row == nullptr ? nullptr : &row->baseline;
}

LearnerSnapshot Learner::snapshot() const {
  LearnerSnapshot snapshot;
  m_posteriors.for_each_oldest_first([&snapshot](const std::string&, const PosteriorRow& row) {
    snapshot.posteriors.push_back(row);
  });
  m_patterns.for_each_oldest_first([&snapshot](const std::string&, const ErrorPattern& row) {
    snapshot.patterns.push_back(row);
  });
  m_baselines.for_each_oldest_first([&snapshot](const std::string&, const BaselineRow& row) {
    snapshot.baselines.push_back(row);
  });
  snapshot.effectiveness = m_effectiveness.snapshot();
  return snapshot;
}

Result<void> Learner::restore(const LearnerSnapshot& snapshot) {
  if (auto ok = check_snapshot(snapshot); !ok) {
    return fail(std::move(ok).error().context("restoring learned state"));
  }
  m_posteriors.clear();
  m_patterns.clear();
  m_baselines.clear();
  for (const PosteriorRow& row : snapshot.posteriors) {
    m_posteriors.get_or_insert(join_key(row.diagnosis, row.action), [&row] { return row; }) = row;
  }
  for (const ErrorPattern& row : snapshot.patterns) {
    m_patterns.get_or_insert(row.fingerprint, [&row] { return row; }) = row;
  }
  for (const BaselineRow& row : snapshot.baselines) {
    m_baselines.get_or_insert(join_key(row.host, row.metric), [&row] { return row; }) = row;
  }
  m_effectiveness.restore(snapshot.effectiveness);
  return {};
}

LearnerCounters Learner::counters() const noexcept {
  return LearnerCounters{m_posteriors.evictions(), m_patterns.evictions(), m_baselines.evictions(),
                         m_effectiveness.evictions(), m_samples_ignored};
}

} // namespace medic::coordinator::learn
