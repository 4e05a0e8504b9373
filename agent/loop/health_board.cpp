// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/health_board.hpp"

#include <algorithm>

namespace medic::agent::loop {

void HealthBoard::follow(const act::PostCondition& condition) {
  if (condition.kind == act::PostCondition::Kind::probe) {
    m_probes.try_emplace(condition.target);
  } else if (condition.kind == act::PostCondition::Kind::process) {
    m_processes.try_emplace(condition.target);
  }
}

void HealthBoard::keep(Latest& latest, std::string_view label, double value, std::int64_t time_ms,
                       std::span<const protocol::LabelView> labels) noexcept {
  for (const auto& pair : labels) {
    if (pair.name == label) {
      if (auto found = latest.find(pair.value); found != latest.end()) {
        found->second = Seen{value, time_ms};
      }
      return;
    }
  }
}

void HealthBoard::observe(std::string_view name, double value, std::int64_t time_ms,
                          std::span<const protocol::LabelView> labels) noexcept {
  if (name == "probe.up" && !m_probes.empty()) {
    keep(m_probes, "probe", value, time_ms, labels);
  } else if (name == "proc.up" && !m_processes.empty()) {
    keep(m_processes, "process", value, time_ms, labels);
  }
}

void HealthBoard::on_signal(const protocol::SignalView& signal) {
  std::pair<std::string, std::string> key{std::string(signal.rule),
                                          std::string(signal.fingerprint)};
  if (signal.state == protocol::SignalState::firing) {
    m_firing.insert(std::move(key));
  } else {
    m_firing.erase(key);
  }
}

bool HealthBoard::healthy(const act::PostCondition& condition, std::int64_t since_ms,
                          std::string_view fingerprint) const {
  switch (condition.kind) {
  case act::PostCondition::Kind::probe:
  case act::PostCondition::Kind::process: {
    const Latest& latest =
        condition.kind == act::PostCondition::Kind::probe ? m_probes : m_processes;
    auto found = latest.find(condition.target);
    return found != latest.end() && found->second.time_ms > since_ms && found->second.value >= 1;
  }
  case act::PostCondition::Kind::rule:
    return std::none_of(m_firing.begin(), m_firing.end(), [&](const auto& firing) {
      return firing.first == condition.target &&
             (fingerprint.empty() || firing.second == fingerprint);
    });
  }
  return false;
}

} // namespace medic::agent::loop
