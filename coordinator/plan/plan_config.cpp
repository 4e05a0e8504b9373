// SPDX-License-Identifier: Apache-2.0
#include "coordinator/plan/plan_config.hpp"

#include <array>

#include "coordinator/learn/number_key.hpp"

namespace medic::coordinator::plan {

namespace {

using std::chrono::milliseconds;
constexpr std::array<std::string_view, 4> k_risk_names{"low", "medium", "high", "critical"};

void add_limit_keys(medic::config::Schema& schema, PlanConfig& config) {
  schema.add_integer<std::uint32_t>("plan.max_concurrent", config.max_concurrent, 1, 10'000,
                                    "Recoveries running at once across the fleet");
  schema.add_integer<std::uint32_t>("plan.max_per_host", config.max_per_host, 1, 100,
                                    "Recoveries running at once on one host");
  schema.add_integer<std::uint32_t>("plan.max_per_action_per_day", config.max_per_action_per_day, 1,
                                    1'000'000,
                                    "Times one action may start across the fleet in any 24 hours");
  schema.add_duration("plan.cooldown", config.cooldown, milliseconds(0), std::chrono::hours(24),
                      "Wait after a recovery before the same action runs again on the same "
                      "host and target; grows by plan.cooldown_factor with each repeat");
  schema.add_integer<std::uint32_t>("plan.cooldown_factor", config.cooldown_factor, 1, 100,
                                    "Each repeat multiplies the cooldown by this");
  schema.add_duration("plan.cooldown_max", config.cooldown_max, milliseconds(0),
                      std::chrono::hours(24 * 7), "The cooldown never grows beyond this");
  schema.add_duration("plan.cooldown_reset", config.cooldown_reset, milliseconds(0),
                      std::chrono::hours(24 * 7),
                      "A success followed by this long without the action running again on "
                      "the same target resets its cooldown to plan.cooldown");
  schema.add_integer<std::uint32_t>("plan.max_attempts", config.max_attempts, 1, 100,
                                    "Actions tried on one incident before it is escalated");
}

void add_policy_keys(medic::config::Schema& schema, PlanConfig& config) {
  schema.add_choice("plan.max_auto_risk", config.max_auto_risk,
                    {k_risk_names.begin(), k_risk_names.end()},
                    "Riskiest action an 'auto' rule runs without approval; riskier ones wait "
                    "for medicctl approve");
  schema.add_bool("plan.dry_run", config.dry_run,
                  "Decide and record every recovery, send no command");
  schema.add_duration("plan.approval_timeout", config.approval_timeout, std::chrono::seconds(10),
                      std::chrono::hours(24 * 7),
                      "A pending approval not given within this is dropped and the incident "
                      "escalated");
  schema.add_integer<std::uint32_t>("plan.max_pending_approvals", config.max_pending_approvals, 1,
                                    1'000'000,
                                    "Approvals waiting at once; more are refused (escalate)");
  schema.add_integer<std::uint32_t>("plan.max_tracked", config.max_tracked, 16, 10'000'000,
                                    "Cooldown, per-action and earned-autonomy records kept, "
                                    "each; the least recently used is forgotten (counted)");
}

void add_autonomy_keys(medic::config::Schema& schema, PlanConfig& config) {
  schema.add_bool("plan.earned_autonomy", config.earned_autonomy,
                  "An action that proved itself for a diagnosis whose rule says 'approve' may "
                  "run as 'auto'; every promotion and demotion is audited");
  schema.add_integer<std::uint32_t>("plan.promote_after", config.promote_after, 1, 1'000'000,
                                    "Verified attempts needed before a promotion");
  learn::add_decimal(schema, "plan.promote_success", config.promote_success,
                     config.texts.promote_success, 0, 1,
                     "Promote when the learned success's lower credible bound reaches this");
  learn::add_decimal(schema, "plan.demote_success", config.demote_success,
                     config.texts.demote_success, 0, 1,
                     "Demote when the lower credible bound falls under this");
  schema.add_integer<std::uint32_t>("plan.demote_failures", config.demote_failures, 1, 1'000,
                                    "Demote after this many failures in a row");
}

} // namespace

std::string_view to_string(Risk risk) noexcept {
  return k_risk_names[static_cast<std::size_t>(risk)];
}

std::optional<Risk> parse_risk(std::string_view text) noexcept {
  for (std::size_t i = 0; i < k_risk_names.size(); ++i) {
    if (k_risk_names[i] == text) {
      return static_cast<Risk>(i);
    }
  }
  return std::nullopt;
}

void add_plan_keys(medic::config::Schema& schema, PlanConfig& config) {
  add_policy_keys(schema, config);
  add_limit_keys(schema, config);
  add_autonomy_keys(schema, config);
}

Result<void> finish_plan(PlanConfig& config) {
  const auto risk = parse_risk(config.max_auto_risk);
  if (!risk) {
    return fail(ErrorCode::config, "plan.max_auto_risk: '" + config.max_auto_risk +
                                       "' is not one of low, medium, high, critical");
  }
  config.max_auto = *risk;
  if (config.demote_success >= config.promote_success) {
    return fail(ErrorCode::config,
                "plan.demote_success must be lower than plan.promote_success (an action would "
                "be promoted and demoted at once)");
  }
  if (config.cooldown_max < config.cooldown) {
    return fail(ErrorCode::config, "plan.cooldown_max must not be shorter than plan.cooldown");
  }
  return {};
}

} // namespace medic::coordinator::plan
