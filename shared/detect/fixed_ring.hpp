// SPDX-License-Identifier: Apache-2.0
// A ring of at most `capacity` items, allocated once in the constructor: pushing onto a full
// ring drops the oldest item. Index 0 is the oldest item. Internal to shared/detect.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace medic::detect {

template <class T>
class FixedRing {
public:
  // A capacity of 0 is taken as 1, so that push_back always has a slot.
  explicit FixedRing(std::size_t capacity) : m_items(std::max<std::size_t>(capacity, 1)) {}

  [[nodiscard]] std::size_t size() const noexcept { return m_size; }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_items.size(); }
  [[nodiscard]] bool empty() const noexcept { return m_size == 0; }
  [[nodiscard]] bool full() const noexcept { return m_size == m_items.size(); }

  // Callers check the index against size(); out of range it wraps (no UB, wrong item).
  [[nodiscard]] T& operator[](std::size_t index) noexcept { return m_items[slot(index)]; }
  [[nodiscard]] const T& operator[](std::size_t index) const noexcept {
    return m_items[slot(index)];
  }
  [[nodiscard]] T& front() noexcept { return (*this)[0]; }
  [[nodiscard]] const T& front() const noexcept { return (*this)[0]; }
  [[nodiscard]] T& back() noexcept { return (*this)[m_size - 1]; }
  [[nodiscard]] const T& back() const noexcept { return (*this)[m_size - 1]; }

  void push_back(const T& item) noexcept {
    if (full()) {
      pop_front();
    }
    m_items[slot(m_size)] = item;
    ++m_size;
  }

  void pop_front() noexcept {
    if (m_size == 0) {
      return;
    }
    m_head = (m_head + 1) % m_items.size();
    --m_size;
  }

  void clear() noexcept {
    m_head = 0;
    m_size = 0;
  }

private:
  [[nodiscard]] std::size_t slot(std::size_t index) const noexcept {
    return (m_head + index) % m_items.size();
  }

  std::vector<T> m_items;
  std::size_t m_head = 0;
  std::size_t m_size = 0;
};

} // namespace medic::detect
