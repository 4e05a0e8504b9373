// SPDX-License-Identifier: Apache-2.0
// Test sinks for the samplers: one that records everything (allocating), one that only counts
// (for the allocation tests).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sample/sample_sink.hpp"

namespace medic::test {

struct RecordedSample {
  std::string name;
  double value = 0;
  std::int64_t time_ms = 0;
  std::map<std::string, std::string> labels;
};

class RecordingSink final : public agent::sample::SampleSink {
public:
  void add(std::string_view name, double value, std::int64_t time_ms,
           std::span<const protocol::LabelView> labels) noexcept override {
    RecordedSample sample{std::string(name), value, time_ms, {}};
    for (const auto& label : labels) {
      sample.labels.emplace(std::string(label.name), std::string(label.value));
    }
    samples.push_back(std::move(sample));
  }
  void error(std::string_view source, const Error& error) noexcept override {
    errors.push_back(std::string(source) + ": " + error.message());
  }

  // The value of the only sample with this name whose labels include `labels`; nullopt when
  // there is none (a second match fails the lookup too, so tests notice duplicates).
  [[nodiscard]] std::optional<double> value(
      std::string_view name, const std::map<std::string, std::string>& labels = {}) const {
    std::optional<double> found;
    for (const auto& sample : samples) {
      if (sample.name != name || !includes(sample.labels, labels)) {
        continue;
      }
      if (found) {
        return std::nullopt;
      }
      found = sample.value;
    }
    return found;
  }
  [[nodiscard]] std::size_t count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& sample : samples) {
      n += sample.name == name ? 1 : 0;
    }
    return n;
  }
  // Distinct values of label `label` among samples named `name`.
  [[nodiscard]] std::vector<std::string> label_values(std::string_view name,
                                                      const std::string& label) const {
    std::vector<std::string> values;
    for (const auto& sample : samples) {
      const auto it = sample.labels.find(label);
      if (sample.name == name && it != sample.labels.end()) {
        values.push_back(it->second);
      }
    }
    return values;
  }
  void clear() {
    samples.clear();
    errors.clear();
  }

  std::vector<RecordedSample> samples;
  std::vector<std::string> errors;

private:
  static bool includes(const std::map<std::string, std::string>& have,
                       const std::map<std::string, std::string>& want) {
    for (const auto& [key, value] : want) {
      const auto it = have.find(key);
      if (it == have.end() || it->second != value) {
        return false;
      }
    }
    return true;
  }
};

// Counts samples without allocating.
class CountingSink final : public agent::sample::SampleSink {
public:
  void add(std::string_view, double, std::int64_t,
           std::span<const protocol::LabelView>) noexcept override {
    ++samples;
  }
  std::size_t samples = 0;
};

} // namespace medic::test
