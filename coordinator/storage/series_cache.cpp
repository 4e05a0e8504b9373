// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/series_cache.hpp"

#include <cmath>

namespace medic::coordinator::storage {

namespace {

// Minutes closed by newer samples wait here between flushes; past this many, they merge into
// the bounded side buffer instead.
constexpr std::size_t k_max_closed_rows = 4'000'000;

} // namespace

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

SeriesCache::Slot SeriesCache::agent(std::string_view agent_id) {
  if (const auto found = m_agent_index.find(agent_id); found != m_agent_index.end()) {
    return found->second;
  }
  if (m_positions.size() >= m_max_agents) {
    return k_no_slot;
  }
  const auto index = static_cast<Slot>(m_positions.size());
  m_positions.emplace_back();
  m_agent_index.emplace(std::string(agent_id), index);
  return index;
}

std::optional<SeriesCache::Slot> SeriesCache::at_position(Slot agent, std::size_t position,
                                                          const protocol::Sample& sample) const {
  if (agent == k_no_slot || position >= m_positions[agent].size()) {
    return std::nullopt;
  }
  const Slot slot = m_positions[agent][position];
  if (slot == k_no_slot) {
    return std::nullopt;
  }
  const auto& series = m_slots[slot];
  if (series.id == 0 || series.name != sample.name || series.labels != sample.labels) {
    return std::nullopt;
  }
  return slot;
}

void SeriesCache::place(Slot agent, std::size_t position, Slot slot) {
  if (agent == k_no_slot || position > 100'000) {
    return; // a batch holds far fewer samples (the protocol's limits); never grow without bound
  }
  auto& positions = m_positions[agent];
  if (position >= positions.size()) {
    positions.resize(position + 1, k_no_slot);
  }
  positions[position] = slot;
}

std::optional<SeriesCache::Slot> SeriesCache::find(std::string_view key) const {
  const auto found = m_ids.find(key);
  if (found == m_ids.end()) {
    return std::nullopt;
  }
  return found->second;
}

SeriesCache::Slot SeriesCache::add_slot(std::string key, std::int64_t id,
                                        const protocol::Sample& sample) {
  if (m_slots.size() >= m_max_series || m_ids.contains(key)) {
    return k_no_slot;
  }
  const auto slot = static_cast<Slot>(m_slots.size());
  SeriesSlot series;
  series.id = id;
  series.name = sample.name;
  series.labels = sample.labels;
  m_slots.push_back(std::move(series));
  m_ids.emplace(std::move(key), slot);
  return slot;
}

SeriesCache::Slot SeriesCache::remember_new(std::string key, std::int64_t id,
                                            const protocol::Sample& sample) {
  const Slot slot = add_slot(key, id, sample);
  if (slot != k_no_slot) {
    m_new.emplace_back(std::move(key), slot);
  }
  return slot;
}

SeriesCache::Slot SeriesCache::remember(std::string key, std::int64_t id,
                                        const protocol::Sample& sample) {
  return add_slot(std::move(key), id, sample);
}

void SeriesCache::roll(SeriesSlot& slot, std::int64_t time_ms, double value) {
  const std::int64_t bucket = bucket_start(time_ms, k_minute_ms);
  if (slot.count > 0 && bucket != slot.bucket_ms) {
    if (bucket < slot.bucket_ms) {
      m_overflow.add(slot.id, time_ms, value); // late: its minute is no longer the open one
      return;
    }
    const RollupRow closed{slot.id, slot.bucket_ms, slot.count, slot.sum, slot.min, slot.max};
    if (m_closed.size() < k_max_closed_rows) {
      m_closed.push_back(closed);
    } else {
      m_overflow.merge(closed);
    }
    slot.count = 0;
    --m_open_slots;
  }
  if (slot.count == 0) {
    ++m_open_slots;
    slot.bucket_ms = bucket;
    slot.count = 1;
    slot.sum = slot.min = slot.max = value;
    return;
  }
  ++slot.count;
  slot.sum += value;
  slot.min = std::min(slot.min, value);
  slot.max = std::max(slot.max, value);
}

void SeriesCache::track_latest(std::optional<Slot> slot, std::int64_t series_id,
                               std::int64_t time_ms, double value) {
  // ">=": of two samples with the same time, the later one in arrival order wins.
  if (slot) {
    auto& series = m_slots[*slot];
    if (time_ms >= series.latest_ms) {
      series.latest_ms = time_ms;
      series.latest = value;
      if (!series.dirty) {
        series.dirty = true;
        m_dirty.push_back(*slot);
      }
    }
    return;
  }
  auto [it, added] = m_latest_uncached.try_emplace(series_id,
                                                   LatestPoint{series_id, time_ms, value});
  if (!added && time_ms >= it->second.time_ms) {
    it->second = {series_id, time_ms, value};
  }
}

void SeriesCache::commit() {
  for (std::size_t i = 0; i < m_staged.size(); ++i) {
    const auto& sample = m_staged[i];
    const Slot slot = m_staged_slots[i];
    const bool cached = slot != k_no_slot && m_slots[slot].id == sample.series_id;
    if (std::isfinite(sample.value)) { // NaN and infinities stay out of roll-ups
      if (cached) {
        roll(m_slots[slot], sample.time_ms, sample.value);
      } else {
        m_overflow.add(sample.series_id, sample.time_ms, sample.value);
      }
    }
    if (m_track_latest && !std::isnan(sample.value)) {
      track_latest(cached ? std::optional<Slot>(slot) : std::nullopt, sample.series_id,
                   sample.time_ms, sample.value);
    }
  }
  m_staged.clear();
  m_staged_slots.clear();
  m_new.clear();
}

void SeriesCache::take_closed(std::int64_t before_ms, std::vector<RollupRow>& out) {
  const std::int64_t last_bucket = before_ms - k_minute_ms; // a minute starting here has ended
  std::erase_if(m_closed, [&](const RollupRow& row) {
    if (row.bucket_ms <= last_bucket) {
      out.push_back(row);
      return true;
    }
    return false;
  });
  const bool everything = before_ms == std::numeric_limits<std::int64_t>::max();
  if (everything || bucket_start(last_bucket, k_minute_ms) > m_scanned_bucket) {
    m_scanned_bucket = everything ? m_scanned_bucket : bucket_start(last_bucket, k_minute_ms);
    for (auto& slot : m_slots) {
      if (slot.count > 0 && slot.bucket_ms <= last_bucket) {
        out.push_back({slot.id, slot.bucket_ms, slot.count, slot.sum, slot.min, slot.max});
        slot.count = 0;
        --m_open_slots;
      }
    }
  }
  m_overflow.take_closed(before_ms, out);
}

void SeriesCache::take_latest(std::vector<LatestPoint>& out) {
  out.reserve(out.size() + pending_latest());
  for (const Slot slot : m_dirty) {
    auto& series = m_slots[slot];
    series.dirty = false;
    if (series.id != 0) {
      out.push_back({series.id, series.latest_ms, series.latest});
    }
  }
  m_dirty.clear();
  for (const auto& [id, point] : m_latest_uncached) {
    out.push_back(point);
  }
  m_latest_uncached.clear();
}

void SeriesCache::rollback_to(Mark mark) {
  for (std::size_t i = mark.new_ids; i < m_new.size(); ++i) {
    m_ids.erase(m_new[i].first);
    auto& slot = m_slots[m_new[i].second];
    slot.id = 0; // positions that still name it no longer match
    slot.name.clear();
    slot.labels.clear();
  }
  m_new.resize(std::min(mark.new_ids, m_new.size()));
  m_staged.resize(std::min(mark.staged, m_staged.size()));
  m_staged_slots.resize(std::min(mark.staged, m_staged_slots.size()));
}

void SeriesCache::rollback() { rollback_to({}); }

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
