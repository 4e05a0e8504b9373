// SPDX-License-Identifier: Apache-2.0
#include "shared/detect/latch.hpp"

namespace medic::detect {

std::string_view to_string(Transition transition) noexcept {
  switch (transition) {
  case Transition::none: return "none";
  case Transition::fire: return "fire";
  case Transition::clear: return "clear";
  }
  return "unknown";
}

std::string_view to_string(Compare compare) noexcept {
  switch (compare) {
  case Compare::above: return "above";
  case Compare::below: return "below";
  }
  return "unknown";
}

} // namespace medic::detect
