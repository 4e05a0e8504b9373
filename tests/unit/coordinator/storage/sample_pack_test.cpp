// SPDX-License-Identifier: Apache-2.0
// The raw samples' packed form and the in-memory minute roll-ups, without a database.
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "coordinator/storage/rollup_buffer.hpp"
#include "coordinator/storage/sample_pack.hpp"
#include "coordinator/storage/series_cache.hpp"

namespace storage = medic::coordinator::storage;

TEST_CASE("sample pack: samples round-trip, whatever their ids, times and values",
          "[storage][samples]") {
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  const std::vector<storage::PackedSample> samples = {
      {1, 1'700'000'000'000, 0.5},
      {300, 1'700'000'000'000 - 5'000, -1e300},
      {max, max, std::numeric_limits<double>::infinity()},
      {0, min, -0.0},
      {42, 0, std::numeric_limits<double>::denorm_min()},
  };
  std::string packed;
  storage::pack_samples(packed, samples, 1'700'000'000'000);
  std::vector<storage::PackedSample> back;
  REQUIRE(storage::unpack_samples(packed, 1'700'000'000'000, back));
  REQUIRE(back == samples);
  REQUIRE(std::signbit(back[3].value));

  // NaN keeps its bits (== would not say so).
  std::string nan_packed;
  storage::pack_samples(nan_packed, std::vector<storage::PackedSample>{{7, 5, std::nan("")}}, 5);
  back.clear();
  REQUIRE(storage::unpack_samples(nan_packed, 5, back));
  REQUIRE(back.size() == 1);
  REQUIRE(std::isnan(back[0].value));
}

TEST_CASE("sample pack: a typical sample takes about 11 bytes", "[storage][samples]") {
  std::vector<storage::PackedSample> samples;
  for (int i = 0; i < 50; ++i) {
    samples.push_back({1000 + i, 1'700'000'000'000 + i % 3, 12.5 * i});
  }
  std::string packed;
  storage::pack_samples(packed, samples, 1'700'000'000'000);
  REQUIRE(packed.size() == 50 * (2 + 1 + 8));
}

TEST_CASE("sample pack: a truncated or malformed blob is refused with where",
          "[storage][samples]") {
  std::string packed;
  storage::pack_samples(packed, std::vector<storage::PackedSample>{{5, 10, 1.0}, {6, 11, 2.0}}, 0);
  std::vector<storage::PackedSample> out;
  for (std::size_t cut = 1; cut < packed.size(); ++cut) {
    if (cut == packed.size() / 2) {
      continue; // the first sample ends here: a valid blob of one
    }
    out.clear();
    const auto result = storage::unpack_samples(std::string_view(packed).substr(0, cut), 0, out);
    REQUIRE_FALSE(result);
    REQUIRE_THAT(result.error().message(), Catch::Contains("truncated or malformed at byte"));
  }
  // Eleven continuation bytes: a varint longer than any 64-bit value.
  const std::string endless(11, '\x80');
  out.clear();
  REQUIRE_FALSE(storage::unpack_samples(endless, 0, out));
}

TEST_CASE("rollup buffer: minutes close and carry count, sum, min and max", "[storage][samples]") {
  REQUIRE(storage::bucket_start(-1, storage::k_minute_ms) == -storage::k_minute_ms);
  REQUIRE(storage::bucket_start(60'000, storage::k_minute_ms) == 60'000);
  REQUIRE(storage::bucket_start(119'999, storage::k_minute_ms) == 60'000);

  storage::RollupBuffer buffer;
  buffer.add(1, 60'000, 3);
  buffer.add(1, 119'999, -1);
  buffer.add(1, 120'000, 10); // the next minute
  buffer.add(2, 61'000, 7);
  buffer.add(2, 62'000, std::nan(""));  // left out
  buffer.add(2, 63'000, INFINITY);      // left out
  REQUIRE(buffer.open_buckets() == 3);

  std::vector<storage::RollupRow> rows;
  buffer.take_closed(119'999, rows); // the minute at 60 s has not ended yet
  REQUIRE(rows.empty());
  buffer.take_closed(120'000, rows);
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.series_id < b.series_id; });
  REQUIRE(rows == std::vector<storage::RollupRow>{{1, 60'000, 2, 2, -1, 3}, {2, 60'000, 1, 7, 7, 7}});
  REQUIRE(buffer.open_buckets() == 1);
  rows.clear();
  buffer.take_closed(std::numeric_limits<std::int64_t>::max(), rows);
  REQUIRE(rows == std::vector<storage::RollupRow>{{1, 120'000, 1, 10, 10, 10}});
}

TEST_CASE("rollup buffer: bounded, and counts what it could not hold", "[storage][samples]") {
  storage::RollupBuffer buffer(2);
  buffer.add(1, 0, 1);
  buffer.add(2, 0, 1);
  buffer.add(3, 0, 1); // a third bucket: no room
  buffer.add(1, 1, 2); // an existing bucket still takes samples
  REQUIRE(buffer.open_buckets() == 2);
  REQUIRE(buffer.dropped() == 1);
}

TEST_CASE("series cache: a rolled-back transaction forgets its new ids and staged samples",
          "[storage][samples]") {
  storage::SeriesCache cache;
  std::string key;
  storage::SeriesCache::make_key(key, "a", "cpu", "");
  cache.remember(key, 1);
  storage::SeriesCache::make_key(key, "a", "mem", "");
  cache.remember_new(key, 2);
  cache.stage({2, 0, 5});
  cache.rollback();
  REQUIRE_FALSE(cache.find(key));
  storage::SeriesCache::make_key(key, "a", "cpu", "");
  REQUIRE(cache.find(key) == std::optional<std::int64_t>(1));
  REQUIRE(cache.rollups().open_buckets() == 0);

  // Keys do not run into each other, whatever bytes the parts hold.
  std::string other;
  storage::SeriesCache::make_key(key, "ab", "c", "");
  storage::SeriesCache::make_key(other, "a", "bc", "");
  REQUIRE(key != other);
  using namespace std::string_view_literals;
  storage::SeriesCache::make_key(key, "a\0b"sv, "c", "");
  storage::SeriesCache::make_key(other, "a", "b\0c"sv, "");
  REQUIRE(key != other);

  storage::SeriesCache::make_key(key, "a", "disk", "mount=/");
  cache.remember_new(key, 3);
  cache.stage({3, 1000, 4});
  cache.commit();
  REQUIRE(cache.find(key) == std::optional<std::int64_t>(3));
  REQUIRE(cache.rollups().open_buckets() == 1);
}
