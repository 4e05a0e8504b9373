// SPDX-License-Identifier: Apache-2.0
// Per-entity state (devices, interfaces) keyed by the name the kernel prints, for samplers that
// compute rates between two readings. Entities come and go (hot-plug, containers): a name seen for
// the first time gets a slot (an allocation, but only then), one missing from a reading loses its
// slot at the end of that round. The capacity is reserved up front and bounded, so a flood of new
// names (thousands of veth interfaces) is cut rather than grown without end. Loop thread only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace medic::agent::sample {

template <class Counters>
class NamedSlots {
public:
  struct Slot {
    std::string name;
    bool tracked = false; // reported; otherwise only remembered as "not wanted"
    bool seen = false;    // in the current reading
    bool has_previous = false;
    Counters previous{};
  };

  explicit NamedSlots(std::size_t capacity = 0) { reserve(capacity); }

  void reserve(std::size_t capacity) {
    m_capacity = capacity;
    m_slots.reserve(capacity);
  }

  [[nodiscard]] Slot* find(std::string_view name) noexcept {
    for (Slot& slot : m_slots) {
      if (slot.name == name) {
        return &slot;
      }
    }
    return nullptr;
  }

  // nullptr when the table is full.
  [[nodiscard]] Slot* insert(std::string_view name, bool tracked) {
    if (m_slots.size() >= m_capacity) {
      return nullptr;
    }
    m_slots.push_back(Slot{std::string(name), tracked, false, false, Counters{}});
    return &m_slots.back();
  }

  void begin_round() noexcept {
    for (Slot& slot : m_slots) {
      slot.seen = false;
    }
  }

  // Drops what the round did not see: a device or interface that is gone. Erasing frees but does
  // not allocate.
  void end_round() {
    std::erase_if(m_slots, [](const Slot& slot) { return !slot.seen; });
  }

  void forget_previous() noexcept {
    for (Slot& slot : m_slots) {
      slot.has_previous = false;
    }
  }

  [[nodiscard]] std::size_t tracked_count() const noexcept {
    return static_cast<std::size_t>(std::count_if(m_slots.begin(), m_slots.end(),
                                                  [](const Slot& slot) { return slot.tracked; }));
  }
  [[nodiscard]] const std::vector<Slot>& slots() const noexcept { return m_slots; }
  [[nodiscard]] std::vector<Slot>& slots() noexcept { return m_slots; }
  void clear() noexcept { m_slots.clear(); }

private:
  std::size_t m_capacity = 0;
  std::vector<Slot> m_slots;
};

} // namespace medic::agent::sample
