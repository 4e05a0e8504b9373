// SPDX-License-Identifier: Apache-2.0
// What both backends keep in memory about samples between transactions: the id of every series
// seen (agent, name, labels), and the minute roll-ups. A batch's samples are staged while its
// transaction runs and reach the roll-ups only once it commits; a rolled-back transaction also
// forgets the series ids it created, since the database forgot them too.
#pragma once

#include <cstdint>
#include <algorithm>
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

namespace medic::coordinator::storage {

class SeriesCache {
public:
  // Bounded: past `max_series` ids nothing more is cached (lookups then go to the database).
  // With `track_latest`, commit() also keeps each series' newest value in memory until
  // take_latest() hands them over (the SQLite backend writes latest_samples from it in bulk).
  explicit SeriesCache(bool track_latest = false, std::size_t max_series = 2'000'000)
      : m_max_series(max_series), m_track_latest(track_latest) {}

  // The cache key of a series; `out` is reused so a lookup allocates nothing once warm.
  static void make_key(std::string& out, std::string_view agent_id, std::string_view name,
                       std::string_view labels);
  [[nodiscard]] std::optional<std::int64_t> find(std::string_view key) const;
  // An id the current transaction created (forgotten again by rollback()).
  void remember_new(std::string key, std::int64_t id);
  // An id read from the database (stays, whatever the transaction does).
  void remember(std::string key, std::int64_t id);

  void stage(const PackedSample& sample) { m_staged.push_back(sample); }
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

  [[nodiscard]] RollupBuffer& rollups() noexcept { return m_rollups; }

  struct LatestPoint {
    std::int64_t series_id = 0;
    std::int64_t time_ms = 0;
    double value = 0;
  };
  // The newest committed value of every series changed since the last call (NaN left out).
  void take_latest(std::vector<LatestPoint>& out);
  [[nodiscard]] std::size_t pending_latest() const noexcept { return m_latest.size(); }

private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };

  std::size_t m_max_series;
  bool m_track_latest;
  std::unordered_map<std::int64_t, LatestPoint> m_latest; // changed since take_latest()
  std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>> m_ids;
  std::vector<std::string> m_new; // created by the running transaction
  std::vector<PackedSample> m_staged;
  RollupBuffer m_rollups;
};

// Series id -> (name, canonical labels) of one agent, for reading raw samples back.
using SeriesNames = std::unordered_map<std::int64_t, std::pair<std::string, std::string>>;

// Appends the unpacked samples that `query` selects (name, labels, time range), up to its limit.
void append_points(std::span<const PackedSample> samples, const SeriesNames& names,
                   const SeriesQuery& query, std::vector<LatestSample>& out);

} // namespace medic::coordinator::storage
