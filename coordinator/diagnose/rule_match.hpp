// SPDX-License-Identifier: Apache-2.0
// Evaluation of a rule's conditions against what is known about an incident. Pure, allocation
// free unless an explanation is asked for.
#pragma once

#include <string>

#include "coordinator/diagnose/rule.hpp"
#include "coordinator/diagnose/rule_set.hpp"

namespace medic::coordinator::diagnose::detail {

// True when every condition holds. When `explain` is not null, appends to it what matched,
// e.g. "rule process-down, label process=web" (a rule without conditions adds nothing).
[[nodiscard]] bool conditions_hold(const Conditions& when, const DiagnosisInput& input,
                                   std::string* explain);

// The value of the incident's label `name`, or null.
[[nodiscard]] const std::string* incident_label(const correlate::Incident& incident,
                                                std::string_view name) noexcept;

} // namespace medic::coordinator::diagnose::detail
