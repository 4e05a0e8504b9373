// SPDX-License-Identifier: Apache-2.0
#include <cstdint>
#include <unordered_map>

#include <catch2/catch.hpp>

#include "shared/logs/flat_index.hpp"

using medic::logs::FlatIndex;

TEST_CASE("the flat index agrees with a map through inserts and erases", "[logs]") {
  FlatIndex index;
  std::unordered_map<std::uint64_t, std::uint32_t> reference;
  std::uint64_t state = 42;
  std::size_t mismatches = 0;
  for (int step = 0; step < 200'000; ++step) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    // Few distinct keys with clustered low bits, so probe runs form and wrap.
    const std::uint64_t key = ((state >> 40) % 3000) * 1024 + ((state >> 20) & 1);
    if ((state >> 60) < 9) {
      const auto value = static_cast<std::uint32_t>(step);
      index.insert(key, value);
      reference[key] = value;
    } else {
      index.erase(key);
      reference.erase(key);
    }
    if (step % 997 == 0) {
      for (const auto& [k, v] : reference) {
        mismatches += index.find(k) == v ? 0 : 1;
      }
    }
  }
  CHECK(mismatches == 0);
  CHECK(index.size() == reference.size());
  CHECK(index.find(0xdeadbeefULL * 1024 + 7) == FlatIndex::k_absent);
}

TEST_CASE("an empty flat index finds nothing and ignores erases", "[logs]") {
  FlatIndex index;
  CHECK(index.find(1) == FlatIndex::k_absent);
  index.erase(1);
  CHECK(index.size() == 0);
  index.insert(1, 5);
  index.insert(1, 6);
  CHECK(index.size() == 1);
  CHECK(index.find(1) == 6);
}
