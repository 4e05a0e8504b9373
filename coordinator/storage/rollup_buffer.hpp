// SPDX-License-Identifier: Apache-2.0
// Per-minute roll-ups built in memory as batches are stored, and written out once a minute has
// closed: the database sees one row per series and minute, not one per sample. Both backends
// use it from their one worker thread. Bounded: past `max_buckets` open buckets, samples are
// counted as dropped instead of growing memory (their raw rows are stored all the same).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace medic::coordinator::storage {

inline constexpr std::int64_t k_minute_ms = 60'000;
inline constexpr std::int64_t k_hour_ms = 3'600'000;
inline constexpr std::int64_t k_day_ms = 86'400'000;

// The start of the period of `period_ms` that holds `time_ms` (floor, also for negative times).
[[nodiscard]] constexpr std::int64_t bucket_start(std::int64_t time_ms, std::int64_t period_ms) {
  const std::int64_t q = time_ms / period_ms;
  return (time_ms % period_ms < 0 ? q - 1 : q) * period_ms;
}

// One series over one period: what the roll-up tables hold.
struct RollupRow {
  std::int64_t series_id = 0;
  std::int64_t bucket_ms = 0; // start of the minute (or hour)
  std::int64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  friend bool operator==(const RollupRow&, const RollupRow&) = default;
};

class RollupBuffer {
public:
  explicit RollupBuffer(std::size_t max_buckets = 4'000'000) : m_max_buckets(max_buckets) {}

  // NaN and infinities are left out of roll-ups (the raw rows keep them).
  void add(std::int64_t series_id, std::int64_t time_ms, double value);
  // Adds a whole minute's aggregate (a row taken out of memory elsewhere).
  void merge(const RollupRow& row);
  // Moves every bucket whose minute ends at or before `before_ms` into `out` (appended).
  void take_closed(std::int64_t before_ms, std::vector<RollupRow>& out);
  [[nodiscard]] std::size_t open_buckets() const noexcept { return m_buckets.size(); }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return m_dropped; }

private:
  struct Key {
    std::int64_t series_id;
    std::int64_t bucket_ms;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const noexcept {
      const auto a = static_cast<std::uint64_t>(key.series_id) * 0x9E3779B97F4A7C15ULL;
      return static_cast<std::size_t>(a ^ (static_cast<std::uint64_t>(key.bucket_ms) >> 10));
    }
  };
  struct Aggregate {
    std::int64_t count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
  };

  std::size_t m_max_buckets;
  std::unordered_map<Key, Aggregate, KeyHash> m_buckets;
  std::uint64_t m_dropped = 0;
};

} // namespace medic::coordinator::storage
