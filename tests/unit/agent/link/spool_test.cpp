// SPDX-License-Identifier: Apache-2.0
#include "agent/link/spool.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "shared/sqlite/database.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using medic::ErrorCode;
using medic::agent::link::Spool;
using medic::agent::link::SpoolClass;
using medic::agent::link::SpooledBatch;
using medic::agent::link::SpoolLimits;
using medic::agent::link::SpoolStats;
using medic::test::TempDir;

namespace {

constexpr auto k_samples = SpoolClass::samples;
constexpr auto k_events = SpoolClass::events;
constexpr auto k_max_u64 = std::numeric_limits<std::uint64_t>::max();

Spool open_spool(const fs::path& path, SpoolLimits limits = {}) {
  auto spool = Spool::open(path, limits);
  if (!spool) {
    FAIL("opening " << path << ": " << spool.error().message());
  }
  return std::move(*spool);
}

// A frame whose bytes say which batch it is, with a NUL inside to prove frames are blobs.
std::string frame_for(std::uint64_t seq, std::size_t size) {
  std::string frame = "batch-" + std::to_string(seq) + '\0';
  frame.resize(size, static_cast<char>('a' + seq % 26));
  return frame;
}

SpoolStats append(Spool& spool, std::uint64_t seq, SpoolClass kind, std::size_t size,
                  std::uint32_t items = 1, std::int64_t created_ms = 1000) {
  auto stats = spool.append(seq, kind, items, created_ms, frame_for(seq, size));
  if (!stats) {
    FAIL("appending " << seq << ": " << stats.error().message());
  }
  return *stats;
}

using Seqs = std::vector<std::uint64_t>;

Seqs seqs_of(const std::vector<SpooledBatch>& batches) {
  Seqs seqs;
  for (const auto& batch : batches) {
    seqs.push_back(batch.seq);
  }
  return seqs;
}

Seqs held_seqs(Spool& spool) {
  auto batches = spool.read_after(0, 1000, 1ULL << 30);
  REQUIRE(batches);
  return seqs_of(*batches);
}

} // namespace

TEST_CASE("Spool returns appended batches in seq order, byte for byte", "[agent][link][spool]") {
  TempDir dir;
  Spool spool = open_spool(dir / "spool.db");
  CHECK(spool.next_seq() == 1);
  CHECK(spool.stats() == SpoolStats{});

  append(spool, 1, k_samples, 300, 40, 1001);
  append(spool, 2, k_events, 0, 0, 1002); // an empty frame stays empty, not NULL
  const SpoolStats stats = append(spool, 3, k_events, 5000, 2, 1003);
  CHECK(stats == spool.stats());
  CHECK(stats.batches == 3);
  CHECK(stats.bytes == 5300);
  CHECK(stats.first_seq == 1);
  CHECK(stats.last_seq == 3);
  CHECK(spool.next_seq() == 4);

  auto all = spool.read_after(0, 10, 1 << 20);
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].seq == 1);
  CHECK((*all)[0].kind == k_samples);
  CHECK((*all)[0].items == 40);
  CHECK((*all)[0].created_ms == 1001);
  CHECK((*all)[0].frame == frame_for(1, 300));
  CHECK((*all)[1].frame.empty());
  CHECK((*all)[1].kind == k_events);
  CHECK((*all)[2].frame == frame_for(3, 5000));
  CHECK((*all)[2].items == 2);

  auto later = spool.read_after(1, 10, 1 << 20);
  REQUIRE(later);
  REQUIRE(later->size() == 2);
  CHECK((*later)[0].seq == 2);
  CHECK((*later)[1].seq == 3);
}

TEST_CASE("Spool removes a batch when it is acked", "[agent][link][spool]") {
  TempDir dir;
  Spool spool = open_spool(dir / "spool.db");
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    append(spool, seq, k_samples, 100);
  }

  auto after = spool.remove(2);
  REQUIRE(after);
  CHECK(after->batches == 3);
  CHECK(after->bytes == 300);
  CHECK(held_seqs(spool) == Seqs{1, 3, 4});

  SECTION("a repeated or unknown ack changes nothing") {
    const SpoolStats before = spool.stats();
    for (std::uint64_t seq : {std::uint64_t{2}, std::uint64_t{0}, std::uint64_t{99}, k_max_u64}) {
      auto again = spool.remove(seq);
      REQUIRE(again);
      CHECK(*again == before);
    }
  }
  SECTION("removing the ends moves first_seq and last_seq") {
    REQUIRE(spool.remove(1));
    CHECK(spool.stats().first_seq == 3);
    REQUIRE(spool.remove(4));
    CHECK(spool.stats().last_seq == 3);
    auto empty = spool.remove(3);
    REQUIRE(empty);
    CHECK(empty->batches == 0);
    CHECK(empty->bytes == 0);
    CHECK(empty->first_seq == 0);
    CHECK(empty->last_seq == 0);
    CHECK(empty->dropped_batches == 0); // an ack is not a drop
    CHECK(spool.next_seq() == 5);
  }
}

TEST_CASE("Spool keeps next_seq across reopening, even when empty", "[agent][link][spool]") {
  TempDir dir;
  const fs::path path = dir / "spool.db";
  {
    Spool spool = open_spool(path);
    append(spool, 1, k_samples, 10);
    append(spool, 7, k_events, 10); // gaps are allowed
    CHECK(spool.next_seq() == 8);
  }
  {
    Spool spool = open_spool(path);
    CHECK(spool.next_seq() == 8);
    CHECK(spool.stats().batches == 2);
    REQUIRE(spool.remove(1));
    REQUIRE(spool.remove(7));
    CHECK(spool.stats().batches == 0);
  }
  Spool spool = open_spool(path);
  CHECK(spool.next_seq() == 8);
  CHECK(spool.stats() == SpoolStats{});
  append(spool, 8, k_samples, 10);
  CHECK(spool.next_seq() == 9);
}

TEST_CASE("Spool refuses a sequence number below next_seq", "[agent][link][spool]") {
  TempDir dir;
  Spool spool = open_spool(dir / "spool.db");
  append(spool, 5, k_samples, 10);
  const SpoolStats before = spool.stats();

  for (std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{4}, std::uint64_t{5}, k_max_u64}) {
    auto refused = spool.append(seq, k_samples, 1, 1000, "x");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == ErrorCode::invalid_argument);
  }
  CHECK(spool.stats() == before);
  CHECK(spool.next_seq() == 6);
  CHECK(held_seqs(spool) == Seqs{5});
}

TEST_CASE("Spool over max_bytes drops the oldest samples, events only for newer events",
          "[agent][link][spool]") {
  TempDir dir;
  const fs::path path = dir / "spool.db";
  const SpoolLimits limits{1000, std::chrono::hours(1)};
  SpoolStats expected;
  {
    Spool spool = open_spool(path, limits);
    // Exactly at the bound: nothing dropped. Samples are 2, 3, 5, 7, 9; items = seq.
    const std::vector<SpoolClass> kinds{k_events, k_samples, k_samples, k_events,  k_samples,
                                        k_events, k_samples, k_events,  k_samples, k_events};
    for (std::uint64_t seq = 1; seq <= 10; ++seq) {
      append(spool, seq, kinds[seq - 1], 100, static_cast<std::uint32_t>(seq));
    }
    CHECK(spool.stats().bytes == 1000);
    CHECK(spool.stats().dropped_batches == 0);

    SpoolStats stats = append(spool, 11, k_events, 100, 11);
    CHECK(held_seqs(spool) == Seqs{1, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    CHECK(stats.dropped_batches == 1);
    CHECK(stats.dropped_items == 2);
    CHECK(stats.dropped_bytes == 100);

    // Room for 350 bytes takes every remaining sample batch and no event batch.
    stats = append(spool, 12, k_events, 350, 12);
    CHECK(held_seqs(spool) == Seqs{1, 4, 6, 8, 10, 11, 12});
    CHECK(stats.dropped_batches == 5);
    CHECK(stats.dropped_items == 2 + 3 + 5 + 7 + 9);
    CHECK(stats.dropped_bytes == 500);
    CHECK(stats.bytes == 950);

    // No sample batch left but the new one: events are kept, the new sample batch goes.
    stats = append(spool, 13, k_samples, 200, 13);
    CHECK(held_seqs(spool) == Seqs{1, 4, 6, 8, 10, 11, 12});
    CHECK(stats.dropped_batches == 6);
    CHECK(stats.dropped_items == 26 + 13);
    CHECK(stats.dropped_bytes == 700);
    CHECK(stats.bytes == 950);

    // A new event batch makes room by dropping the oldest events.
    stats = append(spool, 14, k_events, 200, 14);
    CHECK(held_seqs(spool) == Seqs{6, 8, 10, 11, 12, 14});
    CHECK(stats.dropped_batches == 8);
    CHECK(stats.dropped_items == 39 + 1 + 4);
    CHECK(stats.dropped_bytes == 900);
    CHECK(stats.bytes == 950);
    CHECK(stats.batches == 6);
    CHECK(stats.first_seq == 6);
    CHECK(stats.last_seq == 14);
    CHECK(spool.stats() == stats);
    expected = stats;
  }
  Spool spool = open_spool(path, limits);
  CHECK(spool.stats() == expected);
  CHECK(spool.next_seq() == 15);
}

TEST_CASE("Spool refuses a frame larger than max_bytes and counts it", "[agent][link][spool]") {
  TempDir dir;
  const fs::path path = dir / "spool.db";
  const SpoolLimits limits{1000, std::chrono::hours(1)};
  {
    Spool spool = open_spool(path, limits);
    append(spool, 1, k_samples, 600);
    auto refused = spool.append(2, k_events, 9, 1000, frame_for(2, 1001));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == ErrorCode::busy);
    CHECK_THAT(refused.error().message(), Catch::Contains(path.string()));
    CHECK(held_seqs(spool) == Seqs{1}); // nothing was evicted for it
    CHECK(spool.stats().dropped_batches == 1);
    CHECK(spool.stats().dropped_items == 9);
    CHECK(spool.stats().dropped_bytes == 1001);
    CHECK(spool.next_seq() == 3);
    append(spool, 3, k_samples, 1000); // exactly max_bytes fits, evicting batch 1
    CHECK(held_seqs(spool) == Seqs{3});
    REQUIRE_FALSE(spool.append(9, k_samples, 1, 1000, frame_for(9, 2000))); // the last word
  }
  Spool spool = open_spool(path, limits);
  CHECK(spool.stats().dropped_batches == 3);
  CHECK(spool.stats().dropped_bytes == 3601);
  CHECK(spool.next_seq() == 10); // a refused number is never handed out again
}

TEST_CASE("Spool expires batches older than max_age", "[agent][link][spool]") {
  TempDir dir;
  Spool spool = open_spool(dir / "spool.db", SpoolLimits{1 << 20, std::chrono::seconds(10)});
  append(spool, 1, k_events, 100, 3, 1'000);
  append(spool, 2, k_samples, 200, 4, 5'000);
  append(spool, 3, k_samples, 300, 5, 11'000);

  auto stats = spool.expire(11'000); // cutoff 1'000: nothing is strictly older
  REQUIRE(stats);
  CHECK(stats->batches == 3);
  CHECK(stats->dropped_batches == 0);

  stats = spool.expire(15'001); // cutoff 5'001: events are not spared by age
  REQUIRE(stats);
  CHECK(held_seqs(spool) == Seqs{3});
  CHECK(stats->first_seq == 3);
  CHECK(stats->bytes == 300);
  CHECK(stats->dropped_batches == 2);
  CHECK(stats->dropped_items == 7);
  CHECK(stats->dropped_bytes == 300);

  stats = spool.expire(std::numeric_limits<std::int64_t>::min()); // no overflow
  REQUIRE(stats);
  CHECK(stats->batches == 1);

  stats = spool.expire(1'000'000);
  REQUIRE(stats);
  CHECK(stats->batches == 0);
  CHECK(stats->first_seq == 0);
  CHECK(stats->last_seq == 0);
  CHECK(stats->dropped_batches == 3);
  CHECK(spool.stats() == *stats);
}

TEST_CASE("Spool read_after honours its limits but returns at least one batch",
          "[agent][link][spool]") {
  TempDir dir;
  Spool spool = open_spool(dir / "spool.db");
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    append(spool, seq, k_samples, 100);
  }
  auto read = [&](std::uint64_t after, std::size_t max_batches, std::size_t max_bytes) {
    auto batches = spool.read_after(after, max_batches, max_bytes);
    REQUIRE(batches);
    return seqs_of(*batches);
  };
  CHECK(read(0, 2, 1 << 20) == Seqs{1, 2});
  CHECK(read(2, 100, 250) == Seqs{3, 4});
  CHECK(read(0, 100, 300) == Seqs{1, 2, 3});
  CHECK(read(3, 100, 10) == Seqs{4}); // one batch even though it exceeds max_bytes
  CHECK(read(3, 0, 1 << 20) == Seqs{4});
  CHECK(read(5, 100, 1 << 20).empty());
  CHECK(read(k_max_u64, 100, 1 << 20).empty());
}

TEST_CASE("Spool refuses a file that is not a spool, naming it", "[agent][link][spool]") {
  TempDir dir;
  const fs::path path = dir / "spool.db";
  SECTION("not SQLite at all") {
    medic::test::write_file(path, std::string(8192, 'x'));
  }
  SECTION("another SQLite database") {
    auto db = medic::sqlite::Database::open(path, medic::sqlite::OpenMode::read_write_create);
    REQUIRE(db);
    REQUIRE(db->exec("CREATE TABLE audit (id INTEGER PRIMARY KEY)"));
  }
  SECTION("a damaged spool") {
    {
      Spool spool = open_spool(path);
      for (std::uint64_t seq = 1; seq <= 4; ++seq) {
        append(spool, seq, k_samples, std::size_t{100} * 1024);
      }
    }
    // Frames this large live in overflow pages, which only the structural check reads at open.
    const auto size = fs::file_size(path);
    REQUIRE(size > std::uintmax_t{256} * 1024);
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2));
    const std::string garbage(std::size_t{32} * 1024, '\xa5');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    REQUIRE(file);
  }
  auto spool = Spool::open(path, SpoolLimits{});
  REQUIRE_FALSE(spool);
  CHECK(spool.error().code() == ErrorCode::storage);
  CHECK_THAT(spool.error().message(), Catch::Contains(path.string()));
}

TEST_CASE("Spool refuses limits of zero", "[agent][link][spool]") {
  TempDir dir;
  for (const SpoolLimits limits :
       {SpoolLimits{0, std::chrono::hours(1)}, SpoolLimits{1000, std::chrono::milliseconds(0)}}) {
    auto refused = Spool::open(dir / "spool.db", limits);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == ErrorCode::invalid_argument);
  }
  CHECK_FALSE(fs::exists(dir / "spool.db"));
}

TEST_CASE("Spool keeps every batch when the agent dies without closing it",
          "[agent][link][spool]") {
  TempDir dir;
  const fs::path path = dir / "spool.db";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // _exit skips every destructor: the connection is never closed and the WAL never
    // checkpointed, as after a crash.
    auto spool = Spool::open(path, SpoolLimits{});
    bool ok = spool.has_value();
    for (std::uint64_t seq = 1; ok && seq <= 20; ++seq) {
      ok = spool->append(seq, seq % 3 == 0 ? k_events : k_samples, 1, 1000, frame_for(seq, 500))
               .has_value();
    }
    ok = ok && spool->remove(4).has_value();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(fs::exists(path.string() + "-wal")); // the data is in the log, not yet the main file

  Spool spool = open_spool(path);
  CHECK(spool.next_seq() == 21);
  CHECK(spool.stats().batches == 19);
  CHECK(spool.stats().bytes == std::uint64_t{19} * 500);
  auto batches = spool.read_after(0, 100, 1 << 20);
  REQUIRE(batches);
  REQUIRE(batches->size() == 19);
  for (const auto& batch : *batches) {
    CHECK(batch.seq != 4);
    CHECK(batch.frame == frame_for(batch.seq, 500));
  }
}

TEST_CASE("A new spool numbers from first_seq, a used one keeps its own numbering",
          "[agent][link][spool]") {
  TempDir dir;
  const fs::path path = dir / "spool.db";
  const SpoolLimits limits{1 << 20, std::chrono::hours(1)};
  const std::uint64_t clock_ms = 1'763'850'000'000;
  {
    auto spool = Spool::open(path, limits, clock_ms);
    REQUIRE(spool);
    CHECK(spool->next_seq() == clock_ms);
    REQUIRE(spool->append(clock_ms, SpoolClass::samples, 1, 0, "frame"));
  }
  // Reopened later with a newer clock: the spool was used, so its own numbering wins.
  auto reopened = Spool::open(path, limits, clock_ms + 60'000);
  REQUIRE(reopened);
  CHECK(reopened->next_seq() == clock_ms + 1);

  // A spool deleted and made again starts above what the old one used.
  const fs::path fresh_path = dir / "fresh.db";
  auto fresh = Spool::open(fresh_path, limits, clock_ms + 120'000);
  REQUIRE(fresh);
  CHECK(fresh->next_seq() == clock_ms + 120'000);
}

TEST_CASE("A spool commit larger than the page cache does not spill pages mid-transaction",
          "[agent][link][spool]") {
  // 64 KiB of cache (about 14 pages) and batches of 60 KiB (15 overflow pages each): SQLite's
  // default would write pages to the WAL before the commit and again at it.
  TempDir dir;
  Spool spool = open_spool(dir.path() / "spool.db");
  for (std::uint64_t seq = 1; seq <= 6; ++seq) {
    append(spool, seq, k_samples, 60 * 1024);
    if (seq > 2) {
      REQUIRE(spool.remove(seq - 2));
    }
  }
  CHECK(spool.database().cache_spills() == 0);
  CHECK(held_seqs(spool) == Seqs{5, 6});
}

TEST_CASE("An acked batch's pages are not written to the WAL again when it is removed",
          "[agent][link][spool]") {
  // Debian's SQLite zeroes freed pages by default (secure_delete), one more WAL frame for each
  // page of every acked batch. The spool turns that off: removing a batch of 15 overflow pages
  // and storing the next one in their place writes the new batch's pages and the b-tree, freelist
  // and state pages of the two commits (26 frames here; 41 with freed pages zeroed).
  TempDir dir;
  Spool spool = open_spool(dir.path() / "spool.db");
  const auto wal_frames = [&] {
    auto checkpoint = spool.database().prepare("PRAGMA wal_checkpoint(PASSIVE)");
    REQUIRE(checkpoint);
    auto row = checkpoint->step();
    REQUIRE(row);
    REQUIRE(*row);
    return checkpoint->column_int(1); // frames in the WAL, all of them checkpointed now
  };
  append(spool, 1, k_samples, 60 * 1024);
  append(spool, 2, k_samples, 60 * 1024);
  REQUIRE(spool.remove(1));
  (void)wal_frames(); // the next commit starts the WAL over
  REQUIRE(spool.remove(2));
  append(spool, 3, k_samples, 60 * 1024);
  const std::int64_t frames = wal_frames();
  CHECK(frames >= 15);
  CHECK(frames < 2 * 15);
  CHECK(held_seqs(spool) == Seqs{3});
}

TEST_CASE("Removing or expiring a batch does not load its frame into memory",
          "[agent][link][spool]") {
  // SQLite runs DELETE ... RETURNING as a trigger: it loaded the whole removed row, frame
  // included, and kept a statement journal of the pages the DELETE changed (a 229 KB peak for a
  // 31 KB frame). The spool measures what it removes with a SELECT of length(frame), which reads
  // no overflow page, and then deletes. SQLite's own peak over what it held before the removal
  // stays below one statement journal buffer (64 KiB): about 3 KB here, 1.2 MB with RETURNING.
  // medic turns SQLite's memory statistics off for the whole process, so a child turns them
  // back on and measures.
  constexpr std::size_t k_frame = 512 * 1024;
  constexpr sqlite3_int64 k_journal_buffer = 64 * 1024;
  TempDir dir;
  const auto child = medic::test::run_in_child([&]() -> std::string {
    if (sqlite3_shutdown() != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1) != SQLITE_OK ||
        sqlite3_initialize() != SQLITE_OK) {
      return "SQLite's memory statistics could not be turned on";
    }
    // No Catch assertion in here: a child reports through its reply.
    auto spool = Spool::open(dir / "spool.db", SpoolLimits{64ULL << 20, std::chrono::seconds(10)});
    if (!spool || !spool->append(1, k_samples, 3, 1'000, frame_for(1, k_frame)) ||
        !spool->append(2, k_samples, 4, 1'000, frame_for(2, k_frame)) ||
        !spool->append(3, k_events, 5, 20'000, frame_for(3, k_frame))) {
      return "could not fill the spool";
    }
    const auto peak_above_held = [](auto&& change) -> sqlite3_int64 {
      const sqlite3_int64 held = sqlite3_memory_used();
      (void)sqlite3_memory_highwater(1);
      return change() ? sqlite3_memory_highwater(0) - held : -1;
    };
    const sqlite3_int64 removing = peak_above_held([&] { return spool->remove(1).has_value(); });
    const sqlite3_int64 expiring =
        peak_above_held([&] { return spool->expire(15'000).has_value(); });
    if (sqlite3_memory_used() <= 0) {
      return "SQLite's memory statistics are off";
    }
    return std::to_string(removing) + " " + std::to_string(expiring);
  });
  INFO("SQLite's peaks above what it held, removing and expiring (B): " << child.reply);
  REQUIRE(child.status.exited_with(0));
  const auto space = child.reply.find(' ');
  REQUIRE(space != std::string::npos);
  const long long removing = std::stoll(child.reply.substr(0, space));
  const long long expiring = std::stoll(child.reply.substr(space + 1));
  CHECK(removing >= 0);
  CHECK(removing < k_journal_buffer);
  CHECK(expiring >= 0);
  CHECK(expiring < k_journal_buffer);

  Spool spool = open_spool(dir / "spool.db");
  CHECK(held_seqs(spool) == Seqs{3});
  CHECK(spool.stats().bytes == k_frame);
  CHECK(spool.stats().dropped_batches == 1);
  CHECK(spool.stats().dropped_items == 4);
  CHECK(spool.stats().dropped_bytes == k_frame);
}
