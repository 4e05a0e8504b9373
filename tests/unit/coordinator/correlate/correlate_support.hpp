// SPDX-License-Identifier: Apache-2.0
// Builders for the Correlator's tests: signals with sensible defaults and event look-ups.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "coordinator/correlate/correlator.hpp"

namespace medic::coordinator::correlate::test {

inline constexpr std::int64_t k_t0 = 1'700'000'000'000;
inline constexpr std::int64_t k_second = 1000;
inline constexpr std::int64_t k_minute = 60 * k_second;

struct Fire {
  std::string agent = "web-1"; // also its host name
  std::string fingerprint = "disk-full";
  protocol::Category category = protocol::Category::resource;
  protocol::Severity severity = protocol::Severity::medium;
  std::vector<protocol::Label> agent_labels = {};
  std::vector<protocol::Label> labels = {};
  protocol::SignalState state = protocol::SignalState::firing;
};

inline SignalInput input(const Fire& fire) {
  SignalInput in;
  in.agent_id = fire.agent;
  in.host = fire.agent;
  in.agent_labels = fire.agent_labels;
  in.signal.rule = fire.fingerprint;
  in.signal.fingerprint = fire.fingerprint;
  in.signal.category = fire.category;
  in.signal.severity = fire.severity;
  in.signal.state = fire.state;
  in.signal.labels = fire.labels;
  in.signal.message = fire.fingerprint + " on " + fire.agent;
  in.signal.value = 1;
  return in;
}

// A signal of `agent` labelled service=`service`, category api.
inline Fire on_service(std::string agent, std::string service, std::string fp) {
  return {.agent = std::move(agent),
          .fingerprint = std::move(fp),
          .category = protocol::Category::api,
          .agent_labels = {{"service", std::move(service)}}};
}

// No fleet incidents: every host's incidents stay its own.
inline CorrelationConfig no_fleet() {
  CorrelationConfig config;
  config.fleet_min_hosts = 0;
  config.fleet_min_percent = 0;
  return config;
}

inline SignalInput cleared(Fire fire) {
  fire.state = protocol::SignalState::cleared;
  return input(fire);
}

inline std::vector<EventKind> kinds(const std::vector<IncidentEvent>& events) {
  std::vector<EventKind> out;
  for (const auto& event : events) {
    out.push_back(event.kind);
  }
  return out;
}

inline bool has(const std::vector<IncidentEvent>& events, EventKind kind) {
  return std::any_of(events.begin(), events.end(),
                     [kind](const IncidentEvent& e) { return e.kind == kind; });
}

inline const IncidentEvent& first(const std::vector<IncidentEvent>& events, EventKind kind) {
  const auto it = std::find_if(events.begin(), events.end(),
                               [kind](const IncidentEvent& e) { return e.kind == kind; });
  REQUIRE(it != events.end());
  return *it;
}

// The id of the incident the first event of the batch is about.
inline IncidentId opened_id(const std::vector<IncidentEvent>& events) {
  REQUIRE_FALSE(events.empty());
  return events.front().incident.id;
}

} // namespace medic::coordinator::correlate::test
