// SPDX-License-Identifier: Apache-2.0
// What diagnosis concludes about an incident: value types shared by diagnose/ (which produces
// them), plan/ (which ranks the candidates) and the engine, storage and admin (which record
// and show them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/message.hpp"

namespace medic::coordinator::diagnose {

// What a rule lets the planner do with its candidates.
enum class Automation : std::uint8_t {
  observe, // record the decision only
  approve, // wait for `medicctl approve`
  auto_,   // run now (within the limits and the maximum auto risk)
};

[[nodiscard]] std::string_view to_string(Automation automation) noexcept; // "observe", ...
[[nodiscard]] std::optional<Automation> parse_automation(std::string_view text) noexcept;

// One recovery the rule proposes: a catalog action of the incident's agent, with its params
// already expanded (no "{label:...}" left).
struct Candidate {
  std::string action;
  std::vector<protocol::Label> params;
  double prior_success = 0.5; // the action's declared success rate, the Beta prior's mean
  double prior_weight = 2;    // pseudo-observations behind that prior
  std::string risk;           // "low".."critical" as the rule declares it; '' = the agent's
  friend bool operator==(const Candidate&, const Candidate&) = default;
};

struct Diagnosis {
  std::string rule_id;                      // the rule that matched; "needs-review" when none did
  std::string root_cause;                   // a label, e.g. "crashed-service", "disk-filling"
  std::vector<std::string> probable_causes; // for people, most likely first
  double confidence = 0;                    // 0..1
  Automation automation = Automation::observe;
  std::vector<Candidate> candidates; // in the rule's order
  std::string explanation;           // one sentence: which conditions matched
  friend bool operator==(const Diagnosis&, const Diagnosis&) = default;
};

inline constexpr const char* k_needs_review = "needs-review";

} // namespace medic::coordinator::diagnose
