// SPDX-License-Identifier: Apache-2.0
// Which (agent, seq) are stored, from the highest seq and the gaps below it, without a database.
#include <vector>

#include <catch2/catch.hpp>

#include "coordinator/storage/sqlite/seq_ledger.hpp"

namespace storage = medic::coordinator::storage;
using storage::SeqClaim;
using storage::SeqGap;

namespace {

std::vector<SeqGap> removed(const SeqClaim& claim) {
  return {claim.removed.begin(),
          claim.removed.begin() + static_cast<std::ptrdiff_t>(claim.removed_count)};
}

std::vector<SeqGap> added(const SeqClaim& claim) {
  return {claim.added.begin(),
          claim.added.begin() + static_cast<std::ptrdiff_t>(claim.added_count)};
}

} // namespace

TEST_CASE("seq ledger: batches in order change no gap and redeliveries are refused",
          "[storage][seqs]") {
  storage::SeqLedger ledger;
  ledger.load("a", 0, {});
  auto first = ledger.claim("a", 1);
  CHECK(first.fresh);
  CHECK(added(first).empty());
  for (std::int64_t seq = 2; seq <= 100; ++seq) {
    const auto claim = ledger.claim("a", seq);
    REQUIRE(claim.fresh);
    REQUIRE(claim.added_count == 0);
    REQUIRE(claim.removed_count == 0);
  }
  CHECK_FALSE(ledger.claim("a", 100).fresh);
  CHECK_FALSE(ledger.claim("a", 1).fresh);
  CHECK_FALSE(ledger.claim("a", 57).fresh);
  // Another agent's numbers are its own.
  CHECK(ledger.claim("b", 57).fresh);
  CHECK(ledger.agents() == 2);
}

TEST_CASE("seq ledger: a jump opens a gap whose seqs are still taken, each once",
          "[storage][seqs]") {
  storage::SeqLedger ledger;
  ledger.load("a", 10, {});
  const auto jump = ledger.claim("a", 20);
  REQUIRE(jump.fresh);
  CHECK(added(jump) == std::vector<SeqGap>{{11, 19}});
  CHECK(removed(jump).empty());

  // From its low end, its high end and its middle.
  const auto low = ledger.claim("a", 11);
  REQUIRE(low.fresh);
  CHECK(removed(low) == std::vector<SeqGap>{{11, 19}});
  CHECK(added(low) == std::vector<SeqGap>{{12, 19}});
  const auto high = ledger.claim("a", 19);
  REQUIRE(high.fresh);
  CHECK(removed(high) == std::vector<SeqGap>{{12, 19}});
  CHECK(added(high) == std::vector<SeqGap>{{12, 18}});
  const auto middle = ledger.claim("a", 15);
  REQUIRE(middle.fresh);
  CHECK(removed(middle) == std::vector<SeqGap>{{12, 18}});
  CHECK(added(middle) == (std::vector<SeqGap>{{12, 14}, {16, 18}}));

  for (const std::int64_t seq : {11, 15, 19, 20, 10, 1}) {
    CAPTURE(seq);
    CHECK_FALSE(ledger.claim("a", seq).fresh);
  }
  // Filling every remaining seq empties the gaps; then nothing below 20 is new.
  for (const std::int64_t seq : {12, 13, 14, 16, 17, 18}) {
    CAPTURE(seq);
    CHECK(ledger.claim("a", seq).fresh);
  }
  const auto last = ledger.claim("a", 12);
  CHECK_FALSE(last.fresh);
  for (std::int64_t seq = 1; seq <= 20; ++seq) {
    REQUIRE_FALSE(ledger.claim("a", seq).fresh);
  }
  // A one-seq gap goes in one delete.
  REQUIRE(ledger.claim("a", 22).fresh);
  const auto single = ledger.claim("a", 21);
  REQUIRE(single.fresh);
  CHECK(removed(single) == std::vector<SeqGap>{{21, 21}});
  CHECK(added(single).empty());
}

TEST_CASE("seq ledger: loaded gaps are honoured in any order", "[storage][seqs]") {
  storage::SeqLedger ledger;
  CHECK_FALSE(ledger.loaded("a"));
  ledger.load("a", 100, {{50, 60}, {1, 9}});
  REQUIRE(ledger.loaded("a"));
  CHECK(ledger.claim("a", 5).fresh);
  CHECK(ledger.claim("a", 55).fresh);
  CHECK_FALSE(ledger.claim("a", 10).fresh);
  CHECK_FALSE(ledger.claim("a", 49).fresh);
  CHECK_FALSE(ledger.claim("a", 61).fresh);
  CHECK(ledger.claim("a", 101).fresh);
  ledger.clear();
  CHECK_FALSE(ledger.loaded("a"));
}

TEST_CASE("seq ledger: an agent that keeps jumping keeps only its newest gaps", "[storage][seqs]") {
  storage::SeqLedger ledger;
  ledger.load("a", 0, {});
  // Every other seq: each claim opens a gap of one.
  std::int64_t seq = 0;
  for (std::size_t i = 0; i < storage::SeqLedger::k_max_gaps; ++i) {
    seq += 2;
    REQUIRE(ledger.claim("a", seq).fresh);
  }
  seq += 2;
  const auto over = ledger.claim("a", seq);
  REQUIRE(over.fresh);
  CHECK(added(over) == std::vector<SeqGap>{{seq - 1, seq - 1}});
  CHECK(removed(over) == std::vector<SeqGap>{{1, 1}}); // the oldest went
  CHECK_FALSE(ledger.claim("a", 1).fresh);             // so seq 1 now counts as stored
  CHECK(ledger.claim("a", 3).fresh);                   // the next oldest is still a gap

  // A split at the bound drops the oldest gap, even one the split itself made.
  storage::SeqLedger full;
  std::vector<SeqGap> gaps;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(storage::SeqLedger::k_max_gaps); ++i) {
    gaps.push_back({10 + i * 10, 14 + i * 10});
  }
  full.load("a", 100'000, gaps);
  const auto split = full.claim("a", 12); // splits the oldest gap, {10, 14}
  REQUIRE(split.fresh);
  CHECK(removed(split) == std::vector<SeqGap>{{10, 14}});
  CHECK(added(split) == std::vector<SeqGap>{{13, 14}}); // {10, 11} made and dropped at once
  CHECK_FALSE(full.claim("a", 10).fresh);
  CHECK(full.claim("a", 13).fresh);
}
