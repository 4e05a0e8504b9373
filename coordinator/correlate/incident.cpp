// SPDX-License-Identifier: Apache-2.0
#include "coordinator/correlate/incident.hpp"

namespace medic::coordinator::correlate {

std::string_view to_string(IncidentState state) noexcept {
  switch (state) {
  case IncidentState::open: return "open";
  case IncidentState::resolved: return "resolved";
  }
  return "unknown";
}

std::string_view to_string(IncidentKind kind) noexcept {
  switch (kind) {
  case IncidentKind::host: return "host";
  case IncidentKind::fleet: return "fleet";
  }
  return "unknown";
}

std::string_view to_string(LinkReason reason) noexcept {
  switch (reason) {
  case LinkReason::none: return "none";
  case LinkReason::same_host: return "same_host";
  case LinkReason::dependency: return "dependency";
  case LinkReason::fleet: return "fleet";
  }
  return "unknown";
}

std::string_view to_string(Layer layer) noexcept {
  switch (layer) {
  case Layer::resource: return "resource";
  case Layer::dependency: return "dependency";
  case Layer::service: return "service";
  }
  return "unknown";
}

} // namespace medic::coordinator::correlate
