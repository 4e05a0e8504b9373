// SPDX-License-Identifier: Apache-2.0
// Both backends: action outcomes, remediation budgets and evidence are stored with their batch,
// exactly once, and read back newest first.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/storage/store_backends.hpp"

namespace storage = medic::coordinator::storage;
namespace protocol = medic::protocol;
using medic::test::envelope;
using medic::test::Postgres;
using medic::test::Sqlite;
using medic::test::TestDatabase;

namespace {

protocol::CommandResult result(std::string action, std::int64_t started_ms) {
  protocol::CommandResult r;
  r.status = protocol::ResultStatus::succeeded;
  r.exit_code = 0;
  r.started_ms = started_ms;
  r.finished_ms = started_ms + 300;
  r.origin = "local";
  r.action = std::move(action);
  r.rule = "restart-web";
  r.target = "proc-down:web";
  r.params = {{"unit", "web.service"}};
  r.post_check = "passed";
  r.plan = "/bin/systemctl restart web.service";
  r.audit_seq = static_cast<std::uint64_t>(started_ms);
  return r;
}

} // namespace

TEMPLATE_TEST_CASE("store: action results and budgets and evidence are stored once", "[storage]",
                   Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto opened = db.open();
  auto& store = *opened;

  protocol::Batch batch;
  batch.results = {result("restart-service", 1000), result("kill-process", 2000)};
  batch.budgets = {{"proc-down:web", "restart-service", 2, 900, 5000, false}};
  batch.evidence = {{"proc-down:web", "process-down", "diag-process-tree", 1100,
                     protocol::ResultStatus::succeeded, "PID PPID"}};
  REQUIRE(store.record_batch(envelope("web-1", 1), batch, 10'000) == storage::BatchOutcome::stored);
  REQUIRE(store.record_batch(envelope("web-1", 1), batch, 10'001) ==
          storage::BatchOutcome::duplicate);

  auto results = store.recent_results({});
  REQUIRE(results);
  REQUIRE(results->size() == 2);
  CHECK(results->at(0).result == batch.results[1]); // newest first
  CHECK(results->at(1).result == batch.results[0]);
  CHECK(results->at(0).batch_seq == 1);

  auto evidence = store.recent_evidence({});
  REQUIRE(evidence);
  REQUIRE(evidence->size() == 1);
  CHECK(evidence->front().evidence == batch.evidence[0]);

  // A newer report replaces the budget; an older one (a late redelivery) does not.
  protocol::Batch newer;
  newer.budgets = {{"proc-down:web", "restart-service", 5, 900, 9000, true}};
  REQUIRE(store.record_batch(envelope("web-1", 3), newer, 20'000));
  protocol::Batch older;
  older.budgets = {{"proc-down:web", "restart-service", 1, 100, 200, false}};
  REQUIRE(store.record_batch(envelope("web-1", 2), older, 15'000));
  auto budgets = store.list_budgets("web-1");
  REQUIRE(budgets);
  REQUIRE(budgets->size() == 1);
  CHECK(budgets->front().budget == newer.budgets[0]);
  CHECK(budgets->front().updated_ms == 20'000);
  auto none = store.list_budgets("db-1");
  REQUIRE(none);
  CHECK(none->empty());

  auto filtered = store.recent_results({"db-1", 0, 100});
  REQUIRE(filtered);
  CHECK(filtered->empty());
}
