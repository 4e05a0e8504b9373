// SPDX-License-Identifier: Apache-2.0
// The incident: what the coordinator folds a fleet's signals into. Value types shared by the
// engines (correlate/ produces them; diagnose/, plan/, escalate/ and storage read them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/message.hpp"

namespace medic::coordinator::correlate {

using IncidentId = std::uint64_t; // 0 = none

enum class IncidentState : std::uint8_t { open, resolved };

enum class IncidentKind : std::uint8_t {
  host,  // one fingerprint on one agent
  fleet, // one fingerprint on many hosts at once (members link to it)
};

// Why an incident is linked to another (Incident::root_id).
enum class LinkReason : std::uint8_t {
  none,
  same_host,  // another incident on the host in the window is the probable root
  dependency, // an incident on a service this one depends on (config dependency map)
  fleet,      // member of a fleet incident
};

// The host level fundamentals first: resource < dependency < service (for root choice).
enum class Layer : std::uint8_t { resource, dependency, service };

struct Incident {
  IncidentId id = 0;
  IncidentKind kind = IncidentKind::host;
  std::string fingerprint;
  std::string agent_id; // '' for a fleet incident
  std::string host;     // the agent's host name; '' for a fleet incident
  std::string service;  // the "service" label of the signal or the agent, when there is one
  std::string rule;     // of the first signal
  protocol::Category category = protocol::Category::resource;
  protocol::Severity severity = protocol::Severity::medium; // the worst seen while open
  Layer layer = Layer::service;
  std::vector<protocol::Label> labels; // the signal's labels, then the agent's not already there
  std::string message;                 // of the latest signal
  double value = 0;                    // of the latest firing signal
  IncidentState state = IncidentState::open;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::int64_t resolved_ms = 0; // 0 while open
  std::uint64_t count = 0;      // firing signals folded in (repeats included)
  std::uint32_t reopened = 0;   // times it recurred within the reopen window
  IncidentId root_id = 0;       // the incident this one is caused by / grouped under
  LinkReason link = LinkReason::none;
  bool flapping = false;
  std::uint32_t fleet_hosts = 0; // fleet incidents: distinct hosts seen in the window
  friend bool operator==(const Incident&, const Incident&) = default;
};

[[nodiscard]] std::string_view to_string(IncidentState state) noexcept;
[[nodiscard]] std::string_view to_string(IncidentKind kind) noexcept;
[[nodiscard]] std::string_view to_string(LinkReason reason) noexcept;
[[nodiscard]] std::string_view to_string(Layer layer) noexcept;

} // namespace medic::coordinator::correlate
