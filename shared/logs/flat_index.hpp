// SPDX-License-Identifier: Apache-2.0
// A small open-addressing map from 64-bit keys (already well mixed) to 32-bit values, for the
// template miner's tree edges: a lookup is one multiply-free mask and a few probes, where
// std::unordered_map pays a division and a pointer chase per lookup on every line. Grows (by
// doubling, rehashing) only when an insert would pass half full, so lookups never allocate.
// Deletion shifts later entries back (no tombstones), so the table never fills with the dead.
//
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace medic::logs {

class FlatIndex {
public:
  static constexpr std::uint32_t k_absent = 0xffffffffU;

  // Returns k_absent when the key is not present.
  [[nodiscard]] std::uint32_t find(std::uint64_t key) const noexcept {
    if (m_slots.empty()) {
      return k_absent;
    }
    for (std::size_t i = key & m_mask;; i = (i + 1) & m_mask) {
      const Slot& slot = m_slots[i];
      if (slot.value == k_absent || slot.key == key) {
        return slot.value;
      }
    }
  }

  // Inserts or overwrites. `value` must not be k_absent.
  void insert(std::uint64_t key, std::uint32_t value) {
    if ((m_size + 1) * 2 > m_slots.size()) {
      grow();
    }
    std::size_t i = key & m_mask;
    while (m_slots[i].value != k_absent && m_slots[i].key != key) {
      i = (i + 1) & m_mask;
    }
    m_size += m_slots[i].value == k_absent ? 1 : 0;
    m_slots[i] = Slot{key, value};
  }

  void erase(std::uint64_t key) noexcept {
    if (m_slots.empty()) {
      return;
    }
    std::size_t i = key & m_mask;
    while (m_slots[i].key != key || m_slots[i].value == k_absent) {
      if (m_slots[i].value == k_absent) {
        return;
      }
      i = (i + 1) & m_mask;
    }
    // Backward-shift deletion: move up every later entry of the run whose home is at or before
    // the hole, so that probing from its home still reaches it.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & m_mask; m_slots[j].value != k_absent; j = (j + 1) & m_mask) {
      const std::size_t home = m_slots[j].key & m_mask;
      const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        m_slots[hole] = m_slots[j];
        hole = j;
      }
    }
    m_slots[hole] = Slot{};
    --m_size;
  }

  [[nodiscard]] std::size_t size() const noexcept { return m_size; }

  void reserve(std::size_t entries) {
    while (m_slots.size() < entries * 2) {
      grow();
    }
  }

private:
  struct Slot {
    std::uint64_t key = 0;
    std::uint32_t value = k_absent;
  };

  void grow() {
    std::vector<Slot> old;
    old.swap(m_slots);
    m_slots.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    m_mask = m_slots.size() - 1;
    m_size = 0;
    for (const Slot& slot : old) {
      if (slot.value != k_absent) {
        insert(slot.key, slot.value);
      }
    }
  }

  std::vector<Slot> m_slots;
  std::size_t m_mask = 0;
  std::size_t m_size = 0;
};

} // namespace medic::logs
