// SPDX-License-Identifier: Apache-2.0
// Raw samples as both backends store them: one row per batch whose `packed` column holds every
// sample as (series id, time, value), about 11 bytes a sample instead of a row each:
//   varint series_id | zigzag varint (time_ms - base_ms) | 8-byte IEEE-754 double, little endian
// base_ms is the row's time_ms (the batch's earliest sample). Decoding checks every length.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

namespace medic::coordinator::storage {

struct PackedSample {
  std::int64_t series_id = 0;
  std::int64_t time_ms = 0;
  double value = 0;
  friend bool operator==(const PackedSample&, const PackedSample&) = default;
};

// Appends the samples to `out` (cleared first).
void pack_samples(std::string& out, std::span<const PackedSample> samples, std::int64_t base_ms);

// Appends what `packed` holds to `out`; a truncated or malformed blob is ErrorCode::storage.
[[nodiscard]] Result<void> unpack_samples(std::string_view packed, std::int64_t base_ms,
                                          std::vector<PackedSample>& out);

} // namespace medic::coordinator::storage
