// SPDX-License-Identifier: Apache-2.0
// The audit and budget tables on a real SQLite file, alone and inside the spool's transaction.
#include "agent/heal/audit_log.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/link/spool.hpp"
#include "shared/sqlite/database.hpp"
#include "tests/support/temp_dir.hpp"

using namespace medic::agent::heal;
namespace protocol = medic::protocol;
using medic::sqlite::Database;
using medic::sqlite::OpenMode;
using medic::test::TempDir;

namespace {

Database open_db(const std::filesystem::path& path) {
  auto db = Database::open(path, OpenMode::read_write_create);
  if (!db) {
    FAIL("opening " << path << ": " << db.error().message());
  }
  REQUIRE(AuditLog::create_tables(*db));
  return std::move(*db);
}

AuditRecord record(int n) {
  AuditRecord r;
  r.time_ms = 1000 + n;
  r.origin = n % 2 == 0 ? "local" : "coordinator";
  r.command_id = n % 2 == 0 ? "" : "cmd-" + std::to_string(n);
  r.rule = "restart-web";
  r.action = "restart-service";
  r.params = {{"unit", "web.service"}, {"n", std::to_string(n)}};
  r.target = "fp-web";
  r.status = "failed";
  r.exit_code = n;
  r.duration_ms = 10 * n;
  r.reason = "attempt " + std::to_string(n);
  r.output = std::string("out\0put ", 8) + std::to_string(n);
  return r;
}

std::vector<AuditRecord> read_after(Database& db, std::uint64_t seq, std::size_t limit) {
  auto records = AuditLog::after(db, seq, limit);
  if (!records) {
    FAIL(records.error().message());
  }
  return *records;
}

} // namespace

TEST_CASE("audit records come back in order with every field", "[heal][heal-audit]") {
  TempDir dir;
  Database db = open_db(dir / "spool.db");
  REQUIRE(AuditLog::create_tables(db)); // again: idempotent
  std::vector<std::uint64_t> seqs;
  for (int n = 1; n <= 5; ++n) {
    auto seq = AuditLog::append(db, record(n));
    REQUIRE(seq);
    seqs.push_back(*seq);
  }
  for (std::size_t i = 1; i < seqs.size(); ++i) {
    CHECK(seqs[i] > seqs[i - 1]);
  }
  const auto all = read_after(db, 0, 100);
  REQUIRE(all.size() == 5);
  for (int n = 1; n <= 5; ++n) {
    AuditRecord expected = record(n);
    expected.seq = seqs[n - 1];
    CHECK(all[n - 1] == expected);
  }
  const auto page = read_after(db, seqs[1], 2);
  REQUIRE(page.size() == 2);
  CHECK(page[0].seq == seqs[2]);
  CHECK(page[1].seq == seqs[3]);
  CHECK(read_after(db, seqs[4], 10).empty());
}

TEST_CASE("audit seqs are never reused after removal and survive reopening", "[heal][heal-audit]") {
  TempDir dir;
  std::uint64_t last = 0;
  {
    Database db = open_db(dir / "spool.db");
    for (int n = 1; n <= 4; ++n) {
      last = AuditLog::append(db, record(n)).value();
    }
    REQUIRE(AuditLog::remove_through(db, last));
    CHECK(read_after(db, 0, 10).empty());
  }
  Database db = open_db(dir / "spool.db");
  const auto next = AuditLog::append(db, record(5));
  REQUIRE(next);
  CHECK(*next > last);
}

TEST_CASE("trim keeps the newest records", "[heal][heal-audit]") {
  TempDir dir;
  Database db = open_db(dir / "spool.db");
  std::vector<std::uint64_t> seqs;
  for (int n = 1; n <= 6; ++n) {
    seqs.push_back(AuditLog::append(db, record(n)).value());
  }
  auto removed = AuditLog::trim(db, 4);
  REQUIRE(removed);
  CHECK(*removed == 2);
  const auto kept = read_after(db, 0, 10);
  REQUIRE(kept.size() == 4);
  CHECK(kept[0].seq == seqs[2]);
  removed = AuditLog::trim(db, 10);
  REQUIRE(removed);
  CHECK(*removed == 0);
}

TEST_CASE("parameters with any bytes round-trip", "[heal][heal-audit]") {
  const std::vector<protocol::Label> params = {
      {"a:b", "1:2"}, {"", ""}, {"nl", "x\ny"}, {"nul", std::string("a\0b", 3)}, {"9", "; rm"}};
  auto decoded = decode_params(encode_params(params));
  REQUIRE(decoded);
  CHECK(*decoded == params);
  for (const char* bad : {"3:ab", "x:a", "1:a", "1:a2", "99999999999999999999:a"}) {
    INFO(bad);
    CHECK_FALSE(decode_params(bad));
  }
}

TEST_CASE("the budget saves and loads, replacing what was saved", "[heal][heal-audit]") {
  TempDir dir;
  Database db = open_db(dir / "spool.db");
  BudgetEntry web{"fp-web", "restart", 5, 2, 1000, 15'000, 23'000, 8000, true, false, false, -1};
  BudgetEntry db_entry{"fp-db", "restart", 1, 1, 100, 100, 1100, 1000, false, false, true, 500};
  REQUIRE(AuditLog::save_budget(db, {web, db_entry}));
  auto loaded = AuditLog::load_budget(db);
  REQUIRE(loaded);
  CHECK(*loaded == std::vector<BudgetEntry>{db_entry, web}); // ordered by target
  REQUIRE(AuditLog::save_budget(db, {web}));
  loaded = AuditLog::load_budget(db);
  REQUIRE(loaded);
  CHECK(*loaded == std::vector<BudgetEntry>{web});
  REQUIRE(AuditLog::save_budget(db, {}));
  CHECK(AuditLog::load_budget(db).value().empty());
}

TEST_CASE("audit and budget writes commit inside the spool's transaction", "[heal][heal-audit]") {
  TempDir dir;
  auto spool = medic::agent::link::Spool::open(dir / "spool.db", {});
  REQUIRE(spool);
  REQUIRE(AuditLog::create_tables(spool->database()));
  std::uint64_t seq = 0;
  const auto written = spool->write_state([&](Database& db) -> medic::Result<void> {
    auto appended = AuditLog::append(db, record(1));
    if (!appended) {
      return medic::fail(std::move(appended).error());
    }
    seq = *appended;
    return AuditLog::save_budget(
        db, {BudgetEntry{"fp", "a", 1, 1, 0, 0, 5000, 5000, false, false, false, -1}});
  });
  REQUIRE(written);
  CHECK(read_after(spool->database(), 0, 10).size() == 1);
  // A failing write rolls the audit row back with it.
  const auto failed = spool->write_state([](Database& db) -> medic::Result<void> {
    if (auto appended = AuditLog::append(db, record(2)); !appended) {
      return medic::fail(std::move(appended).error());
    }
    return medic::fail(medic::ErrorCode::internal, "boom");
  });
  CHECK_FALSE(failed);
  const auto rows = read_after(spool->database(), 0, 10);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].seq == seq);
  CHECK(AuditLog::load_budget(spool->database()).value().size() == 1);
}

TEST_CASE("action cooldowns save and load, bounded, without the expired ones",
          "[heal][heal-audit][cooldown]") {
  TempDir dir;
  Database db = open_db(dir / "spool.db");
  const std::string odd_key = std::string("restart\n4:unit3:a\0b", 19);
  REQUIRE(AuditLog::save_cooldown(db, {odd_key, 50'000}, 1'000, 3));
  REQUIRE(AuditLog::save_cooldown(db, {"clean", 2'000}, 1'000, 3));
  REQUIRE(AuditLog::save_cooldown(db, {odd_key, 60'000}, 1'000, 3)); // replaces
  auto loaded = AuditLog::load_cooldowns(db, 1'500);
  REQUIRE(loaded);
  CHECK(*loaded ==
        std::vector<medic::agent::act::CooldownEntry>{{"clean", 2'000}, {odd_key, 60'000}});
  CHECK(AuditLog::load_cooldowns(db, 2'000).value().size() == 1); // "clean" is over then
  // Saving later drops the expired ones and keeps at most max_entries, those ending last.
  REQUIRE(AuditLog::save_cooldown(db, {"a", 70'000}, 3'000, 2));
  REQUIRE(AuditLog::save_cooldown(db, {"b", 80'000}, 3'000, 2));
  loaded = AuditLog::load_cooldowns(db, 0);
  REQUIRE(loaded);
  CHECK(*loaded == std::vector<medic::agent::act::CooldownEntry>{{"a", 70'000}, {"b", 80'000}});
}
