// SPDX-License-Identifier: Apache-2.0
// What the agent currently knows about the health of the things actions' post-conditions name:
// the last `probe.up` per probe and `proc.up` per watched process (only those some action
// names: registered at start-up, so observing a sample never allocates), and which rule
// instances are firing (from the signals). Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "agent/act/action.hpp"
#include "protocol/message.hpp"

namespace medic::agent::loop {

class HealthBoard {
public:
  // Post-conditions of kind probe and process name what to follow.
  void follow(const act::PostCondition& condition);

  // Every sample passes through here; only probe.up and proc.up of followed names are kept.
  void observe(std::string_view name, double value, std::int64_t time_ms,
               std::span<const protocol::LabelView> labels) noexcept;
  void on_signal(const protocol::SignalView& signal);

  // Whether the condition holds, judged on what was seen after `since_ms` (a sample from before
  // the action proves nothing): true healthy, false not (yet), and for a rule: not firing.
  // `fingerprint`, when not empty, narrows a rule condition to that instance.
  [[nodiscard]] bool healthy(const act::PostCondition& condition, std::int64_t since_ms,
                             std::string_view fingerprint) const;

private:
  struct Seen {
    double value = 0;
    std::int64_t time_ms = 0;
  };
  using Latest = std::map<std::string, Seen, std::less<>>;
  static void keep(Latest& latest, std::string_view label, double value, std::int64_t time_ms,
                   std::span<const protocol::LabelView> labels) noexcept;

  Latest m_probes;
  Latest m_processes;
  std::set<std::pair<std::string, std::string>, std::less<>> m_firing; // (rule, fingerprint)
};

} // namespace medic::agent::loop
