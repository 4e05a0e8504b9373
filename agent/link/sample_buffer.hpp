// SPDX-License-Identifier: Apache-2.0
// The samples of the batch being filled. Capacity is fixed at construction, so appending never
// allocates; names must be string literals or otherwise outlive the buffer. Loop thread only.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/message.hpp"

namespace medic::agent::link {

class SampleBuffer {
public:
  explicit SampleBuffer(std::size_t capacity) : m_capacity(capacity) {
    m_samples.reserve(capacity);
  }

  // False when full: the caller flushes and appends again.
  [[nodiscard]] bool append(std::string_view name, double value, std::int64_t time_ms) {
    if (m_samples.size() >= m_capacity) {
      return false;
    }
    m_samples.push_back(protocol::SampleView{name, value, time_ms, {}});
    return true;
  }

  [[nodiscard]] std::span<const protocol::SampleView> samples() const noexcept { return m_samples; }
  [[nodiscard]] bool empty() const noexcept { return m_samples.empty(); }
  [[nodiscard]] bool full() const noexcept { return m_samples.size() >= m_capacity; }
  [[nodiscard]] std::size_t size() const noexcept { return m_samples.size(); }
  void clear() noexcept { m_samples.clear(); }

private:
  std::size_t m_capacity;
  std::vector<protocol::SampleView> m_samples;
};

} // namespace medic::agent::link
