// SPDX-License-Identifier: Apache-2.0
#include "coordinator/correlate/correlate_text.hpp"

#include <algorithm>

namespace medic::coordinator::correlate::text {

const std::string* label(const std::vector<protocol::Label>& labels,
                         std::string_view name) noexcept {
  const auto it = std::find_if(labels.begin(), labels.end(),
                               [name](const protocol::Label& l) { return l.name == name; });
  return it == labels.end() ? nullptr : &it->value;
}

const std::string& fingerprint(const protocol::Signal& signal) noexcept {
  return signal.fingerprint.empty() ? signal.rule : signal.fingerprint;
}

std::string service(const SignalInput& input) {
  for (const auto* labels : {&input.signal.labels, &input.agent_labels}) {
    if (const std::string* value = label(*labels, "service"); value != nullptr && !value->empty()) {
      return *value;
    }
  }
  return {};
}

Layer layer(const SignalInput& input) noexcept {
  for (const auto* labels : {&input.signal.labels, &input.agent_labels}) {
    if (const std::string* value = label(*labels, "layer"); value != nullptr) {
      for (const Layer candidate : {Layer::resource, Layer::dependency, Layer::service}) {
        if (*value == to_string(candidate)) {
          return candidate;
        }
      }
    }
  }
  switch (input.signal.category) {
  case protocol::Category::resource:
  case protocol::Category::network: return Layer::resource;
  case protocol::Category::database:
  case protocol::Category::integration: return Layer::dependency;
  default: return Layer::service;
  }
}

std::vector<protocol::Label> merged_labels(const SignalInput& input) {
  std::vector<protocol::Label> out = input.signal.labels;
  for (const auto& agent_label : input.agent_labels) {
    if (label(input.signal.labels, agent_label.name) == nullptr) {
      out.push_back(agent_label);
    }
  }
  return out;
}

bool worse(protocol::Severity a, protocol::Severity b) noexcept {
  return static_cast<int>(a) < static_cast<int>(b);
}

std::string duration(std::int64_t ms) {
  constexpr std::int64_t k_second = 1000;
  constexpr std::int64_t k_minute = 60 * k_second;
  constexpr std::int64_t k_hour = 60 * k_minute;
  if (ms >= k_hour && ms % k_hour == 0) {
    return std::to_string(ms / k_hour) + "h";
  }
  if (ms >= k_minute && ms % k_minute == 0) {
    return std::to_string(ms / k_minute) + "m";
  }
  if (ms >= k_second) { // rounded down: "300s" for 300123 ms
    return std::to_string(ms / k_second) + "s";
  }
  return std::to_string(ms) + "ms";
}

} // namespace medic::coordinator::correlate::text
