// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/rollup_buffer.hpp"

#include <algorithm>
#include <cmath>

namespace medic::coordinator::storage {

void RollupBuffer::add(std::int64_t series_id, std::int64_t time_ms, double value) {
  if (!std::isfinite(value)) {
    return;
  }
  const Key key{series_id, bucket_start(time_ms, k_minute_ms)};
  auto found = m_buckets.find(key);
  if (found == m_buckets.end()) {
    if (m_buckets.size() >= m_max_buckets) {
      ++m_dropped;
      return;
    }
    m_buckets.emplace(key, Aggregate{1, value, value, value});
    return;
  }
  auto& aggregate = found->second;
  ++aggregate.count;
  aggregate.sum += value;
  aggregate.min = std::min(aggregate.min, value);
  aggregate.max = std::max(aggregate.max, value);
}

void RollupBuffer::merge(const RollupRow& row) {
  const Key key{row.series_id, bucket_start(row.bucket_ms, k_minute_ms)};
  auto found = m_buckets.find(key);
  if (found == m_buckets.end()) {
    if (m_buckets.size() >= m_max_buckets) {
      m_dropped += static_cast<std::uint64_t>(row.count);
      return;
    }
    m_buckets.emplace(key, Aggregate{row.count, row.sum, row.min, row.max});
    return;
  }
  auto& aggregate = found->second;
  aggregate.count += row.count;
  aggregate.sum += row.sum;
  aggregate.min = std::min(aggregate.min, row.min);
  aggregate.max = std::max(aggregate.max, row.max);
}

void RollupBuffer::take_closed(std::int64_t before_ms, std::vector<RollupRow>& out) {
  for (auto it = m_buckets.begin(); it != m_buckets.end();) {
    const auto& [key, aggregate] = *it;
    if (key.bucket_ms <= before_ms - k_minute_ms) {
      out.push_back({key.series_id, key.bucket_ms, aggregate.count, aggregate.sum, aggregate.min,
                     aggregate.max});
      it = m_buckets.erase(it);
    } else {
      ++it;
    }
  }
}

} // namespace medic::coordinator::storage
