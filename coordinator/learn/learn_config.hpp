// SPDX-License-Identifier: Apache-2.0
// The learning engine's configuration keys (learn.*): map capacities and the statistics'
// parameters. The lead registers them from coordinator/config.
#pragma once

#include <cstdint>
#include <string>

#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::learn {

struct LearnConfig {
  std::uint32_t max_posteriors = 10'000; // (diagnosis, action) pairs
  std::uint32_t max_patterns = 10'000;   // fingerprints
  std::uint32_t max_baselines = 100'000; // (host, metric) pairs
  std::uint32_t max_actions = 1'024;     // effectiveness rows per action
  std::uint32_t baseline_span = 60;      // samples; EWMA weight 2 / (span + 1)
  double lower_bound_sd = 1.645;         // k in mean - k * sd

  // Where the key table keeps decimal keys as written (see number_key.hpp).
  struct Texts {
    std::string lower_bound_sd;
  } texts;

  [[nodiscard]] double baseline_weight() const noexcept {
    return 2.0 / (static_cast<double>(baseline_span) + 1.0);
  }
};

void add_learn_keys(medic::config::Schema& schema, LearnConfig& config);
// No cross-key rule today; kept so the lead's wiring is the same for every engine.
[[nodiscard]] Result<void> finish_learn(LearnConfig& config);

} // namespace medic::coordinator::learn
