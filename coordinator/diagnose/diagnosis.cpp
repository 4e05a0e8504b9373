// SPDX-License-Identifier: Apache-2.0
#include "coordinator/diagnose/diagnosis.hpp"

namespace medic::coordinator::diagnose {

std::string_view to_string(Automation automation) noexcept {
  switch (automation) {
  case Automation::observe: return "observe";
  case Automation::approve: return "approve";
  case Automation::auto_: return "auto";
  }
  return "observe";
}

std::optional<Automation> parse_automation(std::string_view text) noexcept {
  for (const auto automation : {Automation::observe, Automation::approve, Automation::auto_}) {
    if (to_string(automation) == text) {
      return automation;
    }
  }
  return std::nullopt;
}

} // namespace medic::coordinator::diagnose
