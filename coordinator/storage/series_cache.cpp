// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/series_cache.hpp"

#include <cmath>

namespace medic::coordinator::storage {

void SeriesCache::make_key(std::string& out, std::string_view agent_id, std::string_view name,
                           std::string_view labels) {
  // Length-prefixed, so no choice of bytes in the parts makes two series share a key.
  const auto append_sized = [&out](std::string_view part) {
    const auto size = static_cast<std::uint32_t>(part.size());
    out.append(reinterpret_cast<const char*>(&size), sizeof size);
    out.append(part);
  };
  out.clear();
  append_sized(agent_id);
  append_sized(name);
  out.append(labels);
}

std::optional<std::int64_t> SeriesCache::find(std::string_view key) const {
  const auto found = m_ids.find(key);
  if (found == m_ids.end()) {
    return std::nullopt;
  }
  return found->second;
}

void SeriesCache::remember_new(std::string key, std::int64_t id) {
  if (m_ids.size() >= m_max_series) {
    return;
  }
  if (m_ids.emplace(key, id).second) {
    m_new.push_back(std::move(key));
  }
}

void SeriesCache::remember(std::string key, std::int64_t id) {
  if (m_ids.size() < m_max_series) {
    m_ids.emplace(std::move(key), id);
  }
}

void SeriesCache::commit() {
  for (const auto& sample : m_staged) {
    m_rollups.add(sample.series_id, sample.time_ms, sample.value);
    if (m_track_latest && !std::isnan(sample.value)) {
      // ">=": of two samples with the same time, the later one in arrival order wins.
      auto [it, added] = m_latest.try_emplace(sample.series_id,
                                              LatestPoint{sample.series_id, sample.time_ms,
                                                          sample.value});
      if (!added && sample.time_ms >= it->second.time_ms) {
        it->second = {sample.series_id, sample.time_ms, sample.value};
      }
    }
  }
  m_staged.clear();
  m_new.clear();
}

void SeriesCache::take_latest(std::vector<LatestPoint>& out) {
  out.reserve(out.size() + m_latest.size());
  for (const auto& [id, point] : m_latest) {
    out.push_back(point);
  }
  m_latest.clear();
}

void SeriesCache::rollback_to(Mark mark) {
  for (std::size_t i = mark.new_ids; i < m_new.size(); ++i) {
    m_ids.erase(m_new[i]);
  }
  m_new.resize(std::min(mark.new_ids, m_new.size()));
  m_staged.resize(std::min(mark.staged, m_staged.size()));
}

void SeriesCache::rollback() {
  for (const auto& key : m_new) {
    m_ids.erase(key);
  }
  m_new.clear();
  m_staged.clear();
}

void append_points(std::span<const PackedSample> samples, const SeriesNames& names,
                   const SeriesQuery& query, std::vector<LatestSample>& out) {
  for (const auto& sample : samples) {
    if (out.size() >= query.limit) {
      return;
    }
    if (sample.time_ms < query.since_ms || sample.time_ms > query.until_ms) {
      continue;
    }
    const auto found = names.find(sample.series_id);
    if (found == names.end()) {
      continue; // cannot happen with a consistent database; never invent a name
    }
    const auto& [name, labels] = found->second;
    if ((!query.name.empty() && name != query.name) || (query.labels && labels != *query.labels)) {
      continue;
    }
    out.push_back({name, labels, sample.value, sample.time_ms});
  }
}

} // namespace medic::coordinator::storage
