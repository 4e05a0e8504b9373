// SPDX-License-Identifier: Apache-2.0
// The backtest over a real SqliteStore filled with record_batch: what a candidate rule set
// would have opened, diagnosed, run and escalated, and that the store is left untouched.
#include <catch2/catch.hpp>

#include "coordinator/backtest/backtest.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace backtest = medic::coordinator::backtest;
namespace storage = medic::coordinator::storage;
namespace diagnose = medic::coordinator::diagnose;
namespace engine = medic::coordinator::engine;
namespace protocol = medic::protocol;

namespace {

constexpr std::int64_t k_t0 = 1'763'900'000'000;

constexpr const char* k_rules = R"(rules:
  - id: svc-down
    when: {rule: process-down}
    root_cause: crashed-service
    confidence: 0.8
    automation: auto
    actions:
      - {action: restart-service, params: {unit: "{label:process}"}, success_rate: 0.9, risk: low}
  - id: disk
    when: {rule: disk-full}
    root_cause: disk-filling
    confidence: 0.7
    automation: approve
    actions:
      - {action: clean-tmp, success_rate: 0.8, risk: low}
)";

struct Fixture {
  medic::test::TempDir dir;
  std::unique_ptr<storage::Store> store;
  engine::EngineConfig config;
  diagnose::RuleSet rules;
  std::uint64_t seq = 1;

  Fixture() {
    auto opened = storage::open_sqlite_store(dir / "medic.db");
    REQUIRE(opened);
    store = std::move(*opened);
    config.diagnose.rules_file = "";
    REQUIRE(engine::finish_engine(config));
    auto loaded = diagnose::load_rules_text(k_rules, "candidate.yaml");
    REQUIRE(loaded);
    rules = std::move(*loaded);
  }

  void hello(const std::string& agent, const std::string& host) {
    protocol::Envelope envelope;
    envelope.agent_id = agent;
    protocol::Hello hello;
    hello.host = host;
    REQUIRE(store->record_hello(envelope, hello, k_t0));
  }

  void signal(const std::string& agent, const std::string& rule, std::int64_t time_ms,
              protocol::SignalState state = protocol::SignalState::firing) {
    protocol::Envelope envelope;
    envelope.agent_id = agent;
    envelope.seq = seq++;
    protocol::Batch batch;
    protocol::Signal s;
    s.rule = rule;
    s.state = state;
    s.severity = protocol::Severity::medium;
    s.fingerprint = rule + ":web";
    s.time_ms = time_ms;
    s.labels = {{"process", "web"}};
    batch.signals.push_back(s);
    REQUIRE(store->record_batch(envelope, batch, time_ms));
  }

  backtest::ReplayReport run(std::size_t limit = backtest::k_default_limit) {
    backtest::BacktestRequest request;
    request.since_ms = k_t0 - 1000;
    request.limit = limit;
    auto report = backtest::run_backtest(*store, request, config, rules);
    REQUIRE(report);
    return std::move(*report);
  }
};

bool has_verdict(const backtest::ReplayIncident& incident, const std::string& verdict) {
  return std::any_of(incident.decisions.begin(), incident.decisions.end(),
                     [&](const auto& d) { return d.verdict == verdict; });
}

} // namespace

TEST_CASE("backtest: a matching auto rule diagnoses and would run its action", "[backtest]") {
  Fixture f;
  f.hello("a1", "web-1");
  f.signal("a1", "process-down", k_t0);
  const auto report = f.run();
  CHECK(report.totals.signals == 1);
  CHECK(report.totals.incidents == 1);
  REQUIRE(report.incidents.size() == 1);
  const auto& incident = report.incidents.front();
  CHECK(incident.incident.host == "web-1");
  CHECK(incident.rule_id == "svc-down");
  CHECK(incident.root_cause == "crashed-service");
  CHECK(incident.confidence == Approx(0.8));
  REQUIRE(has_verdict(incident, "run"));
  CHECK(incident.decisions.front().action == "restart-service");
  CHECK(incident.decisions.front().outcome == "succeeded (assumed after 5 s)");
  CHECK(report.totals.runs == 1);
  CHECK(report.totals.outcomes_assumed == 1);
  CHECK(report.totals.escalations == 0);
  // Nothing was written: no incident, no audit entry.
  auto stored = f.store->list_incidents({});
  REQUIRE(stored);
  CHECK(stored->empty());
  auto audit = f.store->incident_audit(0, 100);
  REQUIRE(audit);
  CHECK(audit->empty());
  CHECK(report.live.available);
  CHECK(report.live.incidents == 0);
}

TEST_CASE("backtest: a stored outcome is used instead of the assumed success", "[backtest]") {
  Fixture f;
  f.hello("a1", "web-1");
  f.signal("a1", "process-down", k_t0);
  protocol::Envelope envelope;
  envelope.agent_id = "a1";
  envelope.seq = 100;
  protocol::Batch batch;
  protocol::CommandResult result;
  result.command_id = "c1";
  result.action = "restart-service";
  result.status = protocol::ResultStatus::failed;
  result.started_ms = k_t0 + 1500;
  result.finished_ms = k_t0 + 2500;
  batch.results.push_back(result);
  REQUIRE(f.store->record_batch(envelope, batch, k_t0 + 2500));
  const auto report = f.run();
  CHECK(report.totals.outcomes_stored == 1);
  CHECK(report.totals.recoveries_failed == 1);
  REQUIRE(report.incidents.size() == 1);
  CHECK(report.incidents.front().decisions.front().outcome.starts_with("failed (stored result"));
  // Nothing else to try: escalated as the live engine would.
  CHECK(report.totals.escalations == 1);
}

TEST_CASE("backtest: no matching rule gives needs-review and no action", "[backtest]") {
  Fixture f;
  f.hello("a1", "web-1");
  f.signal("a1", "something-odd", k_t0);
  const auto report = f.run();
  REQUIRE(report.incidents.size() == 1);
  CHECK(report.incidents.front().rule_id == diagnose::k_needs_review);
  CHECK(report.totals.needs_review == 1);
  CHECK(report.totals.runs == 0);
  CHECK(has_verdict(report.incidents.front(), "nothing_to_do"));
}

TEST_CASE("backtest: a fleet of hosts gives one fleet incident and no per-host runs",
          "[backtest]") {
  Fixture f;
  for (int i = 0; i < 6; ++i) {
    f.hello("a" + std::to_string(i), "web-" + std::to_string(i));
    f.signal("a" + std::to_string(i), "process-down", k_t0 + i * 100);
  }
  const auto report = f.run();
  CHECK(report.totals.fleet_incidents == 1);
  CHECK(report.totals.runs == 0);
  CHECK(report.totals.escalations >= 1);
  const auto fleet = std::find_if(report.incidents.begin(), report.incidents.end(), [](auto& i) {
    return i.incident.kind == medic::coordinator::correlate::IncidentKind::fleet;
  });
  REQUIRE(fleet != report.incidents.end());
  CHECK(fleet->incident.fleet_hosts >= 5);
  REQUIRE_FALSE(fleet->escalations.empty());
  CHECK(fleet->escalations.front().reason == "fleet-incident");
}

TEST_CASE("backtest: an approve rule waits for approval, then times out and escalates",
          "[backtest]") {
  Fixture f;
  f.hello("a1", "db-1");
  f.signal("a1", "disk-full", k_t0);
  const auto report = f.run();
  REQUIRE(report.incidents.size() == 1);
  const auto& incident = report.incidents.front();
  CHECK(incident.rule_id == "disk");
  CHECK(has_verdict(incident, "await_approval"));
  CHECK(report.totals.awaiting_approval == 1);
  CHECK(report.totals.runs == 0);
  CHECK(report.totals.approvals_timed_out == 1); // plan.approval_timeout (15 min) passed
  REQUIRE(incident.escalations.size() == 1);
  CHECK(incident.escalations.front().reason == "approval-timeout");
}

TEST_CASE("backtest: a flapping incident is held and escalated", "[backtest]") {
  Fixture f;
  f.hello("a1", "web-1");
  for (int round = 0; round < 5; ++round) {
    const std::int64_t start = k_t0 + round * 300'000; // every 5 minutes, quiet period is 2
    f.signal("a1", "process-down", start);
    f.signal("a1", "process-down", start + 1000, protocol::SignalState::cleared);
  }
  const auto report = f.run();
  CHECK(report.totals.incidents == 1);
  CHECK(report.totals.reopened >= 3);
  CHECK(report.totals.flapping == 1);
  REQUIRE(report.incidents.size() == 1);
  const auto& incident = report.incidents.front();
  CHECK(incident.incident.flapping);
  CHECK(std::any_of(incident.decisions.begin(), incident.decisions.end(), [](const auto& d) {
    return d.verdict == "held" && d.reason.find("flapping") != std::string::npos;
  }));
  CHECK(std::any_of(incident.escalations.begin(), incident.escalations.end(),
                    [](const auto& e) { return e.reason == "flapping"; }));
}

TEST_CASE("backtest: the limit cuts the period and the report says so", "[backtest]") {
  Fixture f;
  f.hello("a1", "web-1");
  for (int i = 0; i < 10; ++i) {
    f.signal("a1", "process-down", k_t0 + i * 1000);
  }
  const auto cut = f.run(5);
  CHECK(cut.cut);
  CHECK(cut.totals.signals == 5);
  CHECK(cut.cut_at_ms == k_t0 + 4000);
  const auto whole = f.run(10);
  CHECK_FALSE(whole.cut);
  CHECK(whole.totals.signals == 10);
  backtest::BacktestRequest bad;
  bad.limit = 0;
  CHECK_FALSE(backtest::run_backtest(*f.store, bad, f.config, f.rules));
  bad.limit = 10;
  bad.since_ms = 10;
  bad.until_ms = 5;
  CHECK_FALSE(backtest::run_backtest(*f.store, bad, f.config, f.rules));
}

TEST_CASE("backtest: the store's until_ms and oldest_first bound and order a read", "[backtest]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    f.signal("a1", "process-down", k_t0 + i * 1000);
  }
  storage::EventQuery query;
  query.until_ms = k_t0 + 2000;
  query.oldest_first = true;
  auto signals = f.store->recent_signals(query);
  REQUIRE(signals);
  REQUIRE(signals->size() == 3);
  CHECK(signals->front().signal.time_ms == k_t0);
  CHECK(signals->back().signal.time_ms == k_t0 + 2000);
  query.oldest_first = false;
  signals = f.store->recent_signals(query);
  REQUIRE(signals);
  CHECK(signals->front().signal.time_ms == k_t0 + 2000);
}

// Not run by default: `medic-unit-tests "[backtest-bench]"` prints the replay's cost.
TEST_CASE("backtest: cost of a 100000-signal replay", "[.][backtest-bench]") {
  Fixture f;
  for (int a = 0; a < 100; ++a) {
    f.hello("a" + std::to_string(a), "host-" + std::to_string(a));
  }
  protocol::Envelope envelope;
  for (int b = 0; b < 100; ++b) {
    protocol::Batch batch;
    for (int i = 0; i < 1000; ++i) {
      const int n = b * 1000 + i;
      protocol::Signal s;
      s.rule = n % 3 == 0 ? "process-down" : "disk-full";
      s.state = n % 2 == 0 ? protocol::SignalState::firing : protocol::SignalState::cleared;
      s.fingerprint = s.rule + ":" + std::to_string(n % 50);
      s.time_ms = k_t0 + n * 100;
      s.labels = {{"process", "web"}};
      batch.signals.push_back(s);
    }
    envelope.agent_id = "a" + std::to_string(b);
    envelope.seq = 1;
    REQUIRE(f.store->record_batch(envelope, batch, k_t0));
  }
  const auto start = std::chrono::steady_clock::now();
  const auto report = f.run();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  WARN("100000 signals: " << ms << " ms (read + replay), " << report.totals.incidents
                          << " incidents, " << report.totals.runs << " runs");
  CHECK(report.totals.signals == 100'000);
}
