// SPDX-License-Identifier: Apache-2.0
// What both backends keep in memory about samples between transactions: the id of every series
// seen (agent, name, labels), each series' open minute roll-up and (SQLite) its newest value. A
// batch's samples are staged while its transaction runs and reach the roll-ups only once it
// commits; a rolled-back transaction also forgets the series ids it created, since the database
// forgot them too.
//
// Hot path, per sample, without hashing: an agent sends the same series in the same order
// batch after batch, so the series at position i of its last batch is compared (name, labels)
// with sample i of this one; only a series that moved or is new costs a key lookup. The slots
// live in one array, and a series' roll-up and latest value live in its slot.
#pragma once

#include <cstdint>
#include <algorithm>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "coordinator/storage/rollup_buffer.hpp"
#include "coordinator/storage/sample_pack.hpp"
#include "coordinator/storage/store.hpp"
#include "protocol/message.hpp"

namespace medic::coordinator::storage {

class SeriesCache {
public:
  using Slot = std::uint32_t;
  static constexpr Slot k_no_slot = std::numeric_limits<Slot>::max();

  // Bounded: past `max_series` series (or `max_agents` agents) nothing more is cached; such
  // series are looked up in the database every time and rolled up in a bounded side buffer.
  // With `track_latest`, commit() also keeps each series' newest value in memory until
  // take_latest() hands them over (the SQLite backend writes latest_samples from it in bulk).
  explicit SeriesCache(bool track_latest = false, std::size_t max_series = 2'000'000,
                       std::size_t max_agents = 1'000'000)
      : m_max_series(std::min<std::size_t>(max_series, k_no_slot - 1)),
        m_max_agents(std::min<std::size_t>(max_agents, k_no_slot - 1)),
        m_track_latest(track_latest) {}

  // The cache key of a series; `out` is reused so a lookup allocates nothing once warm.
  static void make_key(std::string& out, std::string_view agent_id, std::string_view name,
                       std::string_view labels);

  // One lookup per batch: the agent's position table (k_no_slot when the cache is full).
  [[nodiscard]] Slot agent(std::string_view agent_id);
  // The series the agent sent at `position` last time, if `sample` is that same series.
  [[nodiscard]] std::optional<Slot> at_position(Slot agent, std::size_t position,
                                                const protocol::Sample& sample) const;
  // Remembers that the agent sent `slot` at `position` (a hint for its next batch).
  void place(Slot agent, std::size_t position, Slot slot);

  [[nodiscard]] std::optional<Slot> find(std::string_view key) const;
  [[nodiscard]] std::int64_t id_of(Slot slot) const noexcept { return m_slots[slot].id; }
  // An id the current transaction created (forgotten again by rollback()); k_no_slot when full.
  Slot remember_new(std::string key, std::int64_t id, const protocol::Sample& sample);
  // An id read from the database (stays, whatever the transaction does).
  Slot remember(std::string key, std::int64_t id, const protocol::Sample& sample);

  // Stages sample `position` of a batch of `agent_id` (`agent` from agent()): its series is
  // found by position, else by key, else numbered in the database by the backend. The two
  // callables are the backend's: `describe(sample)` gives the (name, canonical labels) it stores,
  // `number(name, labels)` creates or finds the series row and gives Result<std::int64_t>.
  template <class Describe, class Number>
  [[nodiscard]] Result<void> stage_sample(Slot agent, std::string_view agent_id,
                                          std::size_t position, const protocol::Sample& sample,
                                          Describe&& describe, Number&& number) {
    auto slot = at_position(agent, position, sample);
    if (!slot) {
      const auto [name, labels] = describe(sample);
      make_key(m_key, agent_id, name, labels);
      slot = find(m_key);
      if (!slot) {
        auto id = number(name, labels);
        if (!id) {
          return fail(std::move(id).error());
        }
        slot = remember_new(m_key, *id, sample);
        if (*slot == k_no_slot) { // the cache is full: staged by id alone
          stage({*id, sample.time_ms, sample.value}, k_no_slot);
          return {};
        }
      }
      place(agent, position, *slot);
    }
    stage({id_of(*slot), sample.time_ms, sample.value}, *slot);
    return {};
  }

  // `slot` may be k_no_slot (a series the cache had no room for).
  void stage(const PackedSample& sample, Slot slot) {
    m_staged.push_back(sample);
    m_staged_slots.push_back(slot);
  }
  // The samples staged since `from` (a mark's `staged`): one batch's, to pack.
  [[nodiscard]] std::span<const PackedSample> staged(std::size_t from = 0) const noexcept {
    return std::span<const PackedSample>(m_staged).subspan(std::min(from, m_staged.size()));
  }
  void commit();
  void rollback();
  // Within a group transaction: where one batch began, and undoing just that batch.
  struct Mark {
    std::size_t new_ids = 0;
    std::size_t staged = 0;
  };
  [[nodiscard]] Mark mark() const noexcept { return {m_new.size(), m_staged.size()}; }
  void rollback_to(Mark mark);

  // Moves every minute roll-up that ends at or before `before_ms` into `out` (appended).
  void take_closed(std::int64_t before_ms, std::vector<RollupRow>& out);
  [[nodiscard]] std::size_t open_buckets() const noexcept {
    return m_open_slots + m_closed.size() + m_overflow.open_buckets();
  }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return m_overflow.dropped(); }

  struct LatestPoint {
    std::int64_t series_id = 0;
    std::int64_t time_ms = 0;
    double value = 0;
  };
  // The newest committed value of every series changed since the last call (NaN left out).
  void take_latest(std::vector<LatestPoint>& out);
  [[nodiscard]] std::size_t pending_latest() const noexcept {
    return m_dirty.size() + m_latest_uncached.size();
  }

private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };
  struct SeriesSlot {
    std::int64_t id = 0; // 0: forgotten (its transaction rolled back)
    std::string name;    // as the agent sent them, for the positional compare
    std::vector<protocol::Label> labels;
    // The open minute roll-up (count 0: none).
    std::int64_t bucket_ms = 0;
    std::int64_t count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    // The newest committed value (track_latest).
    std::int64_t latest_ms = std::numeric_limits<std::int64_t>::min();
    double latest = 0;
    bool dirty = false;
  };

  Slot add_slot(std::string key, std::int64_t id, const protocol::Sample& sample);
  void roll(SeriesSlot& slot, std::int64_t time_ms, double value);
  void track_latest(std::optional<Slot> slot, std::int64_t series_id, std::int64_t time_ms,
                    double value);

  std::size_t m_max_series;
  std::size_t m_max_agents;
  bool m_track_latest;
  std::vector<SeriesSlot> m_slots;
  std::unordered_map<std::string, Slot, Hash, std::equal_to<>> m_ids;
  std::unordered_map<std::string, Slot, Hash, std::equal_to<>> m_agent_index;
  std::vector<std::vector<Slot>> m_positions; // per agent: the slot sent at each position
  std::vector<std::pair<std::string, Slot>> m_new; // created by the running transaction
  std::string m_key; // stage_sample's key, reused
  std::vector<PackedSample> m_staged;
  std::vector<Slot> m_staged_slots;
  std::size_t m_open_slots = 0;    // slots with an open minute
  // The last minute take_closed scanned the slots for: a later call in the same minute has no
  // slot to find (a late sample that opens an older minute in an empty slot waits a minute).
  std::int64_t m_scanned_bucket = std::numeric_limits<std::int64_t>::min();
  std::vector<RollupRow> m_closed; // minutes a newer sample closed, waiting for take_closed
  RollupBuffer m_overflow;         // samples older than their slot's open minute; uncached series
  std::vector<Slot> m_dirty;       // slots whose latest value changed since take_latest()
  std::unordered_map<std::int64_t, LatestPoint> m_latest_uncached;
};

// Series id -> (name, canonical labels) of one agent, for reading raw samples back.
using SeriesNames = std::unordered_map<std::int64_t, std::pair<std::string, std::string>>;

// Appends the unpacked samples that `query` selects (name, labels, time range), up to its limit.
void append_points(std::span<const PackedSample> samples, const SeriesNames& names,
                   const SeriesQuery& query, std::vector<LatestSample>& out);

} // namespace medic::coordinator::storage
