// SPDX-License-Identifier: Apache-2.0
// The planner's configuration keys (plan.*): the automation ceiling, the limits on recoveries,
// the cooldown backoff, approvals and earned autonomy. The lead registers them from
// coordinator/config.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::plan {

// The declared risk of an action, least dangerous first.
enum class Risk : std::uint8_t { low, medium, high, critical };

[[nodiscard]] std::string_view to_string(Risk risk) noexcept;
[[nodiscard]] std::optional<Risk> parse_risk(std::string_view text) noexcept;

struct PlanConfig {
  std::string max_auto_risk = "medium"; // auto rules run actions up to this risk
  Risk max_auto = Risk::medium;         // the same, parsed by finish_plan
  bool dry_run = false;
  std::uint32_t max_concurrent = 3;
  std::uint32_t max_per_host = 1;
  std::uint32_t max_per_action_per_day = 20;
  std::chrono::milliseconds cooldown{std::chrono::minutes(1)};
  std::uint32_t cooldown_factor = 2;
  std::chrono::milliseconds cooldown_max{std::chrono::hours(1)};
  std::chrono::milliseconds cooldown_reset{std::chrono::hours(1)};
  std::uint32_t max_attempts = 3;
  std::chrono::milliseconds approval_timeout{std::chrono::minutes(15)};
  std::uint32_t max_pending_approvals = 1'000;
  bool earned_autonomy = true;
  std::uint32_t promote_after = 10;
  double promote_success = 0.9;
  double demote_success = 0.7;
  std::uint32_t demote_failures = 2;
  std::uint32_t max_tracked = 10'000; // cooldown, per-action and autonomy entries each

  // Where the key table keeps decimal keys as written (see learn/number_key.hpp).
  struct Texts {
    std::string promote_success;
    std::string demote_success;
  } texts;
};

void add_plan_keys(medic::config::Schema& schema, PlanConfig& config);
// Cross-key checks (demote below promote, cooldown_max not below cooldown); parses
// max_auto_risk into max_auto.
[[nodiscard]] Result<void> finish_plan(PlanConfig& config);

} // namespace medic::coordinator::plan
