// SPDX-License-Identifier: Apache-2.0
// Learner: everything medic learns from outcomes, in bounded maps (least recently used entries
// are evicted and counted): a Beta posterior per (diagnosis, action), an error pattern per
// fingerprint, a baseline per (host, metric), and the operator's effectiveness figures.
// snapshot()/restore() give plain rows so the lead's storage can persist them. Pure: no I/O, no
// clock (time comes in as Unix ms). Not thread-safe: the coordinator's engine thread owns it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/diagnose/diagnosis.hpp"
#include "coordinator/learn/baseline.hpp"
#include "coordinator/learn/effectiveness.hpp"
#include "coordinator/learn/error_pattern.hpp"
#include "coordinator/learn/learn_config.hpp"
#include "coordinator/learn/lru_map.hpp"
#include "coordinator/learn/posterior.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::learn {

// What the learner files a diagnosis under: its root-cause label (stable across rule edits),
// or its rule id when the rule gives none.
[[nodiscard]] std::string diagnosis_key(const diagnose::Diagnosis& diagnosis);

struct PosteriorRow {
  std::string diagnosis; // diagnosis_key()
  std::string action;
  Posterior posterior;
  friend bool operator==(const PosteriorRow&, const PosteriorRow&) = default;
};

struct BaselineRow {
  std::string host;
  std::string metric;
  Baseline baseline;
  friend bool operator==(const BaselineRow&, const BaselineRow&) = default;
};

// Every list is least recently used first, so restore() rebuilds the same eviction order.
struct LearnerSnapshot {
  std::vector<PosteriorRow> posteriors;
  std::vector<ErrorPattern> patterns;
  std::vector<BaselineRow> baselines;
  EffectivenessState effectiveness;
  friend bool operator==(const LearnerSnapshot&, const LearnerSnapshot&) = default;
};

// One verified outcome of a recovery action.
struct Outcome {
  std::string diagnosis; // diagnosis_key()
  std::string action;
  std::string fingerprint;    // of the incident; '' updates no error pattern
  std::string risk;           // as the planner resolved it
  double prior_success = 0.5; // the candidate's, seeds a posterior seen for the first time
  double prior_weight = 2;
  bool success = false;
  std::int64_t time_to_recover_ms = 0;
};

struct LearnerCounters {
  std::uint64_t posterior_evictions = 0;
  std::uint64_t pattern_evictions = 0;
  std::uint64_t baseline_evictions = 0;
  std::uint64_t action_evictions = 0; // effectiveness per-action rows
  std::uint64_t samples_ignored = 0;  // non-finite baseline samples
};

class Learner {
public:
  explicit Learner(LearnConfig config = {});

  // Updates the posterior (created from the outcome's prior when new), the fingerprint's error
  // pattern and the effectiveness per action and risk.
  void record_outcome(const Outcome& outcome, std::int64_t now_ms);
  // What is believed now: the learned posterior, or the prior when nothing was learned yet.
  // Does not count as a use for eviction.
  [[nodiscard]] Posterior posterior(std::string_view diagnosis, std::string_view action,
                                    double prior_success, double prior_weight) const;
  [[nodiscard]] const Posterior* find_posterior(std::string_view diagnosis,
                                                std::string_view action) const;
  // The posterior's lower credible bound with the configured learn.lower_bound_sd.
  [[nodiscard]] double lower_bound(const Posterior& posterior) const noexcept;

  // An incident opened or reopened on `fingerprint`.
  void pattern_seen(std::string_view fingerprint, std::string_view rule, std::int64_t now_ms);
  [[nodiscard]] const ErrorPattern* find_pattern(std::string_view fingerprint) const;

  // One metric value; false (and counted) when it is not finite.
  bool add_sample(std::string_view host, std::string_view metric, double value,
                  std::int64_t now_ms);
  [[nodiscard]] const Baseline* find_baseline(std::string_view host, std::string_view metric) const;

  [[nodiscard]] Effectiveness& effectiveness() noexcept { return m_effectiveness; }
  [[nodiscard]] const Effectiveness& effectiveness() const noexcept { return m_effectiveness; }

  [[nodiscard]] LearnerSnapshot snapshot() const;
  // Replaces all learned state. Checks every row first and changes nothing when one is wrong;
  // the error names the list, the row's index and its key. Rows beyond a map's capacity evict
  // the earliest ones (counted).
  [[nodiscard]] Result<void> restore(const LearnerSnapshot& snapshot);

  [[nodiscard]] LearnerCounters counters() const noexcept;
  [[nodiscard]] std::size_t posterior_count() const noexcept { return m_posteriors.size(); }
  [[nodiscard]] std::size_t pattern_count() const noexcept { return m_patterns.size(); }
  [[nodiscard]] std::size_t baseline_count() const noexcept { return m_baselines.size(); }
  [[nodiscard]] const LearnConfig& config() const noexcept { return m_config; }
  // A config reload: baseline_span and lower_bound_sd apply from now on; the capacities
  // (max_*) are kept, the maps were sized by them (a restart changes them).
  void reconfigure(const LearnConfig& config);

private:
  LearnConfig m_config;
  LruMap<PosteriorRow> m_posteriors; // key: join_key(diagnosis, action)
  LruMap<ErrorPattern> m_patterns;   // key: fingerprint
  LruMap<BaselineRow> m_baselines;   // key: join_key(host, metric)
  Effectiveness m_effectiveness;
  std::uint64_t m_samples_ignored = 0;
};

} // namespace medic::coordinator::learn
