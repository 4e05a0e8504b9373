// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/sample_pack.hpp"

#include <bit>
#include <cstring>

namespace medic::coordinator::storage {

namespace {

constexpr int k_max_varint_bytes = 10;

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

bool get_varint(std::string_view& in, std::uint64_t& value) {
  value = 0;
  for (int i = 0; i < k_max_varint_bytes && !in.empty(); ++i) {
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      return true;
    }
  }
  return false;
}

std::uint64_t zigzag(std::int64_t value) {
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}

std::int64_t unzigzag(std::uint64_t value) {
  return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}

} // namespace

void pack_samples(std::string& out, std::span<const PackedSample> samples, std::int64_t base_ms) {
  out.clear();
  out.reserve(samples.size() * 12);
  for (const auto& sample : samples) {
    put_varint(out, static_cast<std::uint64_t>(sample.series_id));
    // Wrapping subtraction: any pair of times round-trips.
    put_varint(out, zigzag(static_cast<std::int64_t>(static_cast<std::uint64_t>(sample.time_ms) -
                                                     static_cast<std::uint64_t>(base_ms))));
    auto bits = std::bit_cast<std::uint64_t>(sample.value);
    for (int i = 0; i < 8; ++i) {
      out.push_back(static_cast<char>(bits & 0xff));
      bits >>= 8;
    }
  }
}

Result<void> unpack_samples(std::string_view packed, std::int64_t base_ms,
                            std::vector<PackedSample>& out) {
  const std::size_t total = packed.size();
  while (!packed.empty()) {
    const std::size_t at = total - packed.size();
    std::uint64_t series = 0;
    std::uint64_t delta = 0;
    if (!get_varint(packed, series) || !get_varint(packed, delta) || packed.size() < 8) {
      return fail(ErrorCode::storage,
                  "packed samples: truncated or malformed at byte " + std::to_string(at) + " of " +
                      std::to_string(total));
    }
    std::uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) {
      bits = (bits << 8) | static_cast<unsigned char>(packed[static_cast<std::size_t>(i)]);
    }
    packed.remove_prefix(8);
    out.push_back({static_cast<std::int64_t>(series),
                   static_cast<std::int64_t>(static_cast<std::uint64_t>(base_ms) +
                                             static_cast<std::uint64_t>(unzigzag(delta))),
                   std::bit_cast<double>(bits)});
  }
  return {};
}

} // namespace medic::coordinator::storage
