// SPDX-License-Identifier: Apache-2.0
// A map with a fixed maximum number of entries: inserting into a full map evicts the entry used
// least recently, and counts it. The learning and planning engines keep all their per-key state
// in these, so a fleet with endless distinct fingerprints or targets cannot grow them without
// bound. Not thread-safe: each engine is used from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace medic::coordinator::learn {

template <class Value>
class LruMap {
public:
  explicit LruMap(std::size_t capacity) : m_capacity(capacity == 0 ? 1 : capacity) {}

  LruMap(const LruMap&) = delete;
  LruMap& operator=(const LruMap&) = delete;
  LruMap(LruMap&&) noexcept = default;
  LruMap& operator=(LruMap&&) noexcept = default;
  ~LruMap() = default;

  // Marks the entry as used. nullptr when absent.
  [[nodiscard]] Value* find(const std::string& key) {
    const auto found = m_index.find(key);
    if (found == m_index.end()) {
      return nullptr;
    }
    m_order.splice(m_order.begin(), m_order, found->second);
    return &found->second->second;
  }

  // Does not change the order (for const readers such as ranking previews).
  [[nodiscard]] const Value* peek(const std::string& key) const {
    const auto found = m_index.find(key);
    return found == m_index.end() ? nullptr : &found->second->second;
  }

  // The entry for `key`, created from `make()` when absent (evicting the least recently used
  // entry when full). Marks it as used.
  template <class Make>
  Value& get_or_insert(const std::string& key, Make&& make) {
    if (Value* existing = find(key)) {
      return *existing;
    }
    if (m_index.size() >= m_capacity) {
      m_index.erase(m_order.back().first);
      m_order.pop_back();
      ++m_evictions;
    }
    m_order.emplace_front(key, make());
    m_index.emplace(key, m_order.begin());
    return m_order.front().second;
  }

  bool erase(const std::string& key) {
    const auto found = m_index.find(key);
    if (found == m_index.end()) {
      return false;
    }
    m_order.erase(found->second);
    m_index.erase(found);
    return true;
  }

  // Least recently used first, so re-inserting in this order restores the same order.
  template <class Visit>
  void for_each_oldest_first(Visit&& visit) const {
    for (auto it = m_order.rbegin(); it != m_order.rend(); ++it) {
      visit(it->first, it->second);
    }
  }
  // The same, for updating values in place (the order does not change).
  template <class Visit>
  void for_each_oldest_first(Visit&& visit) {
    for (auto it = m_order.rbegin(); it != m_order.rend(); ++it) {
      visit(it->first, it->second);
    }
  }

  void clear() noexcept {
    m_order.clear();
    m_index.clear();
  }

  [[nodiscard]] std::size_t size() const noexcept { return m_index.size(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }
  [[nodiscard]] std::uint64_t evictions() const noexcept { return m_evictions; }

private:
  using Entry = std::pair<std::string, Value>;

  std::size_t m_capacity;
  std::list<Entry> m_order; // most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> m_index;
  std::uint64_t m_evictions = 0;
};

// Joins key parts with a separator no name of ours contains (unit separator, U+001F).
[[nodiscard]] inline std::string join_key(std::string_view a, std::string_view b) {
  std::string key;
  key.reserve(a.size() + b.size() + 1);
  key.append(a).push_back('\x1f');
  key.append(b);
  return key;
}

} // namespace medic::coordinator::learn
