// SPDX-License-Identifier: Apache-2.0
// CommandLedger: an accepted id never runs again, its result is kept and survives a restart
// through the spool's SQLite file; late and old commands are refused.
#include "agent/loop/command_ledger.hpp"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

using medic::agent::loop::CommandLedger;
using medic::agent::loop::LedgerVerdict;
namespace protocol = medic::protocol;

namespace {

protocol::CommandResult result_for(const std::string& id) {
  protocol::CommandResult result;
  result.command_id = id;
  result.status = protocol::ResultStatus::succeeded;
  result.exit_code = 0;
  result.started_ms = 1000;
  result.finished_ms = 1200;
  result.output = "done";
  result.action = "restart-service";
  result.params = {{"unit", "web.service"}};
  return result;
}

} // namespace

TEST_CASE("CommandLedger refuses repeats and late commands", "[loop][acting]") {
  CommandLedger ledger(2);
  const protocol::Command command{"c1", 10'000, "restart-service", {}};
  CHECK(ledger.check(command, 5'000) == LedgerVerdict::run);
  CHECK(ledger.check(command, 5'001) == LedgerVerdict::duplicate);
  CHECK(ledger.result_of("c1") == nullptr); // still running
  ledger.finished(result_for("c1"));
  REQUIRE(ledger.result_of("c1") != nullptr);
  CHECK(ledger.result_of("c1")->output == "done");
  CHECK(ledger.check({"late", 4'000, "x", {}}, 5'000) == LedgerVerdict::expired);
  CHECK(ledger.check({"c2", 10'000, "x", {}}, 5'000) == LedgerVerdict::run);
  CHECK(ledger.check({"c3", 10'000, "x", {}}, 5'000) == LedgerVerdict::overloaded);
  // A day after its deadline an id is forgotten (a replay is expired by then anyway).
  const std::int64_t much_later = 10'000 + CommandLedger::k_keep_after_deadline_ms + 1;
  CHECK(ledger.check({"c3", much_later + 10, "x", {}}, much_later) == LedgerVerdict::run);
  CHECK(ledger.size() == 1);
}

TEST_CASE("CommandLedger keeps accepted ids and results in SQLite", "[loop][acting]") {
  medic::test::TempDir dir;
  auto db =
      medic::sqlite::Database::open(dir / "spool.db", medic::sqlite::OpenMode::read_write_create);
  REQUIRE(db);
  REQUIRE(CommandLedger::create_table(*db));
  REQUIRE(CommandLedger::create_table(*db)); // idempotent
  REQUIRE(CommandLedger::save_accepted(*db, "c1", 10'000));
  REQUIRE(CommandLedger::save_accepted(*db, "c2", 20'000));
  REQUIRE(CommandLedger::save_accepted(*db, "old", 1'000));
  REQUIRE(CommandLedger::save_result(*db, result_for("c1")));

  const std::int64_t now = 1'000 + CommandLedger::k_keep_after_deadline_ms + 5;
  auto loaded = CommandLedger::load(*db, now);
  REQUIRE(loaded);
  REQUIRE(loaded->size() == 2); // "old" pruned
  CommandLedger ledger;
  ledger.restore(std::move(*loaded));
  CHECK(ledger.check({"c1", 10'000, "restart-service", {}}, now) == LedgerVerdict::duplicate);
  REQUIRE(ledger.result_of("c1") != nullptr);
  CHECK(*ledger.result_of("c1") == result_for("c1"));
  CHECK(ledger.check({"c2", 20'000, "x", {}}, now) == LedgerVerdict::duplicate);
  CHECK(ledger.result_of("c2") == nullptr);
}
