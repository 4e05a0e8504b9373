// SPDX-License-Identifier: Apache-2.0
// The raw samples' packed form and the in-memory minute roll-ups, without a database.
#include <algorithm>
#include <cmath>
#include <tuple>
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

namespace {

medic::protocol::Sample sample_of(std::string name, std::vector<medic::protocol::Label> labels = {}) {
  medic::protocol::Sample sample;
  sample.name = std::move(name);
  sample.labels = std::move(labels);
  return sample;
}

} // namespace

TEST_CASE("series cache: a rolled-back transaction forgets its new ids and staged samples",
          "[storage][samples]") {
  storage::SeriesCache cache;
  std::string key;
  storage::SeriesCache::make_key(key, "a", "cpu", "");
  const auto cpu = cache.remember(key, 1, sample_of("cpu"));
  storage::SeriesCache::make_key(key, "a", "mem", "");
  const auto mem = cache.remember_new(key, 2, sample_of("mem"));
  cache.stage({2, 0, 5}, mem);
  cache.rollback();
  REQUIRE_FALSE(cache.find(key));
  storage::SeriesCache::make_key(key, "a", "cpu", "");
  REQUIRE(cache.find(key) == std::optional(cpu));
  REQUIRE(cache.id_of(cpu) == 1);
  REQUIRE(cache.open_buckets() == 0);

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
  const auto disk = cache.remember_new(key, 3, sample_of("disk", {{"mount", "/"}}));
  cache.stage({3, 1000, 4}, disk);
  cache.commit();
  REQUIRE(cache.find(key) == std::optional(disk));
  REQUIRE(cache.open_buckets() == 1);
}

TEST_CASE("series cache: the series at a batch position is found again without a key",
          "[storage][samples]") {
  storage::SeriesCache cache;
  const auto agent = cache.agent("a");
  REQUIRE(cache.agent("a") == agent);
  REQUIRE(cache.agent("b") != agent);
  std::string key;
  storage::SeriesCache::make_key(key, "a", "disk", "mount=/");
  const auto disk = cache.remember_new(key, 7, sample_of("disk", {{"mount", "/"}}));
  cache.place(agent, 3, disk);
  cache.commit();
  REQUIRE(cache.at_position(agent, 3, sample_of("disk", {{"mount", "/"}})) == std::optional(disk));
  // Another series at that position, other labels, another position: no match.
  REQUIRE_FALSE(cache.at_position(agent, 3, sample_of("disk", {{"mount", "/var"}})));
  REQUIRE_FALSE(cache.at_position(agent, 3, sample_of("cpu")));
  REQUIRE_FALSE(cache.at_position(agent, 2, sample_of("disk", {{"mount", "/"}})));
  REQUIRE_FALSE(cache.at_position(cache.agent("b"), 3, sample_of("disk", {{"mount", "/"}})));

  // A series created by a batch that rolls back is no longer found by its position either.
  const auto mark = cache.mark();
  storage::SeriesCache::make_key(key, "a", "mem", "");
  const auto mem = cache.remember_new(key, 8, sample_of("mem"));
  cache.place(agent, 0, mem);
  cache.stage({8, 0, 1}, mem);
  cache.rollback_to(mark);
  REQUIRE_FALSE(cache.at_position(agent, 0, sample_of("mem")));
  REQUIRE_FALSE(cache.find(key));
  REQUIRE(cache.staged().empty());
}

TEST_CASE("series cache: minute roll-ups close on a newer minute and take late samples",
          "[storage][samples]") {
  storage::SeriesCache cache(true);
  std::string key;
  storage::SeriesCache::make_key(key, "a", "cpu", "");
  const auto cpu = cache.remember_new(key, 1, sample_of("cpu"));
  cache.stage({1, 60'000, 3}, cpu);
  cache.stage({1, 119'999, -1}, cpu);
  cache.stage({1, 120'000, 10}, cpu);           // the next minute closes the first
  cache.stage({1, 61'000, 5}, cpu);             // late: the first minute again
  cache.stage({1, 62'000, std::nan("")}, cpu);  // neither rolled up nor latest
  cache.stage({1, 9, 1}, storage::SeriesCache::k_no_slot); // a series the cache had no room for
  cache.commit();

  std::vector<storage::RollupRow> rows;
  cache.take_closed(119'999, rows); // the minute at 60 s has not ended yet
  REQUIRE(rows == std::vector<storage::RollupRow>{{1, 0, 1, 1, 1, 1}});
  rows.clear();
  cache.take_closed(120'000, rows);
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return std::tie(a.series_id, a.bucket_ms, a.count) < std::tie(b.series_id, b.bucket_ms, b.count);
  });
  // The first minute in two parts (the database merges them): 3 and -1, then the late 5.
  REQUIRE(rows == std::vector<storage::RollupRow>{{1, 60'000, 1, 5, 5, 5}, {1, 60'000, 2, 2, -1, 3}});
  REQUIRE(cache.open_buckets() == 1);
  rows.clear();
  cache.take_closed(std::numeric_limits<std::int64_t>::max(), rows);
  REQUIRE(rows == std::vector<storage::RollupRow>{{1, 120'000, 1, 10, 10, 10}});
  REQUIRE(cache.open_buckets() == 0);

  // Latest values: the newest per series, once, then nothing until the next commit.
  std::vector<storage::SeriesCache::LatestPoint> latest;
  cache.take_latest(latest);
  std::sort(latest.begin(), latest.end(),
            [](const auto& a, const auto& b) { return a.time_ms < b.time_ms; });
  REQUIRE(latest.size() == 2);
  REQUIRE(latest[0].series_id == 1);
  REQUIRE(latest[0].time_ms == 9);
  REQUIRE(latest[1].series_id == 1);
  REQUIRE(latest[1].time_ms == 120'000);
  REQUIRE(latest[1].value == 10);
  latest.clear();
  cache.take_latest(latest);
  REQUIRE(latest.empty());
}
