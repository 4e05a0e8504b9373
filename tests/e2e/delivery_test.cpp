// SPDX-License-Identifier: Apache-2.0
// Nothing the agent observed is lost, and nothing is stored twice: the real agent and
// coordinator, killed with SIGKILL and partitioned, with the SQLite files checked afterwards.
#include <csignal>
#include <fstream>

#include <catch2/catch.hpp>

#include "shared/sqlite/database.hpp"
#include "tests/support/fleet_fixture.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;

namespace {

struct Stored {
  std::int64_t min_seq = 0; // the lowest and highest seq stored (agents.first_seq, last_seq)
  std::int64_t max_seq = 0;
  std::int64_t gaps = 0;     // ranges between them never stored (batch_gaps)
  std::int64_t batches = 0;  // the agent's stored-batch counter, one per batch stored
  std::int64_t raw_rows = 0; // raw sample rows, one per stored batch that had samples
  std::int64_t raw_seqs = 0; // distinct seqs among them
};

// What the coordinator's database holds for one agent, read through a second connection.
Stored stored(const Fleet& fleet, const std::string& agent) {
  Stored result;
  auto db = medic::sqlite::Database::open(fleet.db_path(), medic::sqlite::OpenMode::read_only);
  if (!db) {
    return result;
  }
  auto counter = db->prepare("SELECT first_seq, last_seq, batches FROM agents WHERE id = ?1");
  auto gaps = db->prepare(
      "SELECT COUNT(*) FROM batch_gaps g JOIN agents a ON a.id = g.agent_id"
      " WHERE g.agent_id = ?1 AND g.last_seq >= a.first_seq");
  auto raw =
      db->prepare("SELECT COUNT(*), COUNT(DISTINCT seq) FROM sample_batches WHERE agent_id = ?1");
  if (!counter || !gaps || !raw) {
    return result;
  }
  counter->bind(1, std::string_view(agent));
  if (counter->step().value_or(false)) {
    result.min_seq = counter->column_int(0);
    result.max_seq = counter->column_int(1);
    result.batches = counter->column_int(2);
  }
  gaps->bind(1, std::string_view(agent));
  if (gaps->step().value_or(false)) {
    result.gaps = gaps->column_int(0);
  }
  raw->bind(1, std::string_view(agent));
  if (raw->step().value_or(false)) {
    result.raw_rows = raw->column_int(0);
    result.raw_seqs = raw->column_int(1);
  }
  return result;
}

// Every seq from the agent's first to its latest stored, each exactly once (one count per seq,
// no gap between them, no raw row twice), and at least `at_least` of them. (A new spool numbers
// from the wall clock, so the first seq is not 1.)
bool complete(const Stored& s, std::int64_t at_least) {
  return s.batches >= at_least && s.batches == s.max_seq - s.min_seq + 1 && s.gaps == 0 &&
         s.raw_rows == s.raw_seqs && s.raw_rows > 0;
}

std::int64_t spooled(const Fleet& fleet, const std::string& agent) {
  auto db = medic::sqlite::Database::open(fleet.dir() / (agent + "-spool.db"),
                                          medic::sqlite::OpenMode::read_only);
  if (!db) {
    return -1;
  }
  auto count = db->prepare("SELECT COUNT(*) FROM batches");
  return count && count->step().value_or(false) ? count->column_int(0) : -1;
}

// A "Name:  123 kB" field of /proc/<pid>/status, in KiB.
std::int64_t status_kib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field + ":")) {
      return std::stoll(line.substr(field.size() + 1));
    }
  }
  return -1;
}

} // namespace

TEST_CASE("kill -9 of the coordinator mid-stream: every seq 1..N is stored exactly once") {
  Fleet fleet;
  const std::string endpoint = fleet.start_coordinator();
  fleet.start_agent("e2e-stream");
  REQUIRE(medic::test::wait_until([&] { return stored(fleet, "e2e-stream").batches >= 5; }, 15s));

  fleet.coordinator().signal(SIGKILL);
  REQUIRE(fleet.coordinator().wait_for(2s));
  const auto at_kill = stored(fleet, "e2e-stream");
  medic::test::sleep_for(1500ms); // the agent keeps sampling into its spool meanwhile

  fleet.start_coordinator(endpoint);
  INFO(fleet.logs());
  const bool caught_up = medic::test::wait_until(
      [&] { return complete(stored(fleet, "e2e-stream"), at_kill.batches + 7); }, 20s, 100ms);
  const auto after = stored(fleet, "e2e-stream");
  INFO("batches " << after.batches << " min " << after.min_seq << " max " << after.max_seq
                  << " gaps " << after.gaps << " raw rows " << after.raw_rows << " raw seqs "
                  << after.raw_seqs);
  CHECK(caught_up);
}

TEST_CASE("kill -9 of the agent after batches reached its spool: they arrive once after restart") {
  Fleet fleet;
  const std::string endpoint = fleet.start_coordinator();
  auto* agent = &fleet.start_agent("e2e-crash");
  REQUIRE(medic::test::wait_until([&] { return stored(fleet, "e2e-crash").batches >= 3; }, 15s));

  // Take the coordinator away so batches pile up in the spool, then crash the agent.
  fleet.coordinator().signal(SIGKILL);
  REQUIRE(fleet.coordinator().wait_for(2s));
  const auto before = stored(fleet, "e2e-crash");
  REQUIRE(medic::test::wait_until([&] { return spooled(fleet, "e2e-crash") >= 3; }, 10s));
  agent->signal(SIGKILL);
  REQUIRE(agent->wait_for(2s));
  const auto in_spool = spooled(fleet, "e2e-crash");
  CHECK(in_spool >= 3);

  fleet.start_coordinator(endpoint);
  agent = &fleet.start_agent("e2e-crash", false); // same key, spool and config
  INFO(fleet.logs());
  // Everything spooled before the crash, and newer batches numbered after it, exactly once.
  CHECK(medic::test::wait_until(
      [&] { return complete(stored(fleet, "e2e-crash"), before.batches + in_spool + 3); }, 20s,
      100ms));
  CHECK(medic::test::wait_until([&] { return spooled(fleet, "e2e-crash") <= 2; }, 10s));
}

TEST_CASE("a 60 s partition loses nothing, keeps agent memory flat, and drains after") {
  Fleet fleet;
  fleet.start_coordinator();
  auto& agent = fleet.start_agent("e2e-partition");
  REQUIRE(
      medic::test::wait_until([&] { return stored(fleet, "e2e-partition").batches >= 5; }, 15s));

  // SIGSTOP freezes the coordinator with its connections open: a silent peer, as in a partition.
  fleet.coordinator().signal(SIGSTOP);
  medic::test::sleep_for(5s); // the agent notices (dead_after 1 s) and spools
  // RssAnon is what the agent allocated itself (heap, stacks): what a queue growing in memory
  // would show. VmRSS also counts code pages, which the agent drops after start-up and which
  // come back one by one as code paths run (file-backed, not growth).
  const auto rss_start = status_kib(agent.pid(), "RssAnon");
  const auto vm_start = status_kib(agent.pid(), "VmRSS");
  const auto spool_start = spooled(fleet, "e2e-partition");
  medic::test::sleep_for(57s);
  const auto rss_end = status_kib(agent.pid(), "RssAnon");
  const auto vm_end = status_kib(agent.pid(), "VmRSS");
  const auto spool_end = spooled(fleet, "e2e-partition");
  fleet.coordinator().signal(SIGCONT);

  WARN("agent RssAnon " << rss_start << " KiB -> " << rss_end << " KiB, VmRSS " << vm_start
                        << " -> " << vm_end << " KiB over 57 s; spool " << spool_start << " -> "
                        << spool_end << " batches");
  CHECK(spool_end >= spool_start + 200); // 5 batches/s went to disk, not to memory
#if defined(__SANITIZE_ADDRESS__)
  // ASan's quarantine holds freed memory back on purpose, so RSS grows with any churn; the
  // plain build checks flatness, this one checks only that nothing is lost.
  CHECK(rss_end > 0);
#else
  CHECK(rss_end - rss_start < 1024); // flat: under 1 MiB of growth over 57 s
  CHECK(vm_end - vm_start < 4096);   // and code paging back in stays bounded
#endif
  const auto before = stored(fleet, "e2e-partition");
  INFO(fleet.logs().substr(0, 20'000));
  CHECK(medic::test::wait_until(
      [&] { return complete(stored(fleet, "e2e-partition"), before.batches + spool_end); }, 30s,
      200ms));
  CHECK(medic::test::wait_until([&] { return spooled(fleet, "e2e-partition") <= 2; }, 10s));
}

TEST_CASE("a coordinator with a one-batch storage queue loses and refuses nothing") {
  Fleet fleet;
  fleet.start_coordinator("tcp://127.0.0.1:*", "storage: {queue: 1}\n");
  const std::vector<std::string> agents{"e2e-bp-1", "e2e-bp-2", "e2e-bp-3"};
  for (const auto& id : agents) {
    fleet.start_agent(id);
  }
  INFO(fleet.logs().substr(0, 20'000));
  for (const auto& id : agents) {
    CHECK(medic::test::wait_until([&] { return complete(stored(fleet, id), 15); }, 30s, 200ms));
  }
  const auto status = fleet.ctl("status");
  REQUIRE(status);
  WARN("paused " << status->at("ingest").value("paused", 0) << " times, refused "
                 << status->at("ingest").value("refused_busy", 0) << " batches");
  CHECK(status->at("ingest").value("refused_busy", 1) == 0);
}
