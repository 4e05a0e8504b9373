// SPDX-License-Identifier: Apache-2.0
// Groups of batches (Store::record_batches) on both backends: whatever a backend does to store a
// group in one go (PostgreSQL: a few statements over arrays), the result is what storing the
// batches one by one, in order, would leave.
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/coordinator/storage/store_backends.hpp"

namespace storage = medic::coordinator::storage;
namespace protocol = medic::protocol;
using medic::test::batch_of;
using medic::test::envelope;
using medic::test::Postgres;
using medic::test::sample;
using medic::test::Sqlite;
using medic::test::TestDatabase;
using Outcome = storage::BatchOutcome;

namespace {

constexpr std::int64_t k_t0 = 1'700'000'040'000; // 40 s into a minute
constexpr std::int64_t k_never = std::numeric_limits<std::int64_t>::max();

protocol::Signal signal(std::string rule, std::int64_t time_ms) {
  protocol::Signal s;
  s.rule = std::move(rule);
  s.severity = protocol::Severity::high;
  s.category = protocol::Category::resource;
  s.fingerprint = "fp-" + s.rule;
  s.value = 1.5;
  s.time_ms = time_ms;
  s.labels = {{"disk", "/var"}};
  s.message = "quote \" and backslash \\ and {braces}, commas";
  return s;
}

protocol::BudgetReport budget(std::uint64_t attempts) {
  protocol::BudgetReport b;
  b.target = "nginx";
  b.action = "restart";
  b.attempts = attempts;
  b.window_start_ms = 10;
  b.next_allowed_ms = 20;
  return b;
}

// Every outcome, "stored" / "duplicate" / "error: ..." so that a failure says which and why.
std::vector<std::string> described(const std::vector<medic::Result<Outcome>>& outcomes) {
  std::vector<std::string> out;
  for (const auto& outcome : outcomes) {
    if (!outcome) {
      out.push_back("error: " + outcome.error().message());
    } else {
      out.push_back(*outcome == Outcome::stored ? "stored" : "duplicate");
    }
  }
  return out;
}

const storage::AgentRecord& agent_of(const std::vector<storage::AgentRecord>& agents,
                                     const std::string& id) {
  for (const auto& agent : agents) {
    if (agent.id == id) {
      return agent;
    }
  }
  FAIL("no agent " << id);
  throw std::logic_error("unreachable");
}

} // namespace

TEMPLATE_TEST_CASE("store: a group with duplicates ends as storing its batches one by one would",
                   "[storage][group]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  REQUIRE(s->record_batch(envelope("a", 1), batch_of({sample("cpu", 1, k_t0)}), k_t0));

  // a2 and a3 update the same series; a3 is older, so a2's value stays the latest. Two samples of
  // "mem" with the same time: the later one in arrival order wins.
  protocol::Batch a2 = batch_of({sample("cpu", 2, k_t0 + 1'000), sample("mem", 7, k_t0 + 5)});
  a2.signals = {signal("disk-full", k_t0 + 1'000)};
  a2.budgets = {budget(3)};
  protocol::Batch a3 = batch_of({sample("cpu", 3, k_t0 + 500), sample("mem", 8, k_t0 + 5)});
  a3.signals = {signal("disk-ok", k_t0 + 1'001)};
  a3.budgets = {budget(1)}; // received earlier than a2's report: a2's stays
  a3.dropped = {4, 9};
  protocol::Batch b1 = batch_of({sample("cpu", 5, k_t0, {{"core", "0"}}), sample("new", 6, k_t0)});
  b1.budgets = {budget(5)};
  protocol::Batch b2 = batch_of({sample("new", 9, k_t0 + 60'000)});
  b2.budgets = {budget(6)}; // same time as b1's: the later one wins
  const protocol::Batch a1 = batch_of({sample("cpu", 100, k_t0 + 9'000)}); // a copy of a1
  const auto e_a1 = envelope("a", 1);
  const auto e_a2 = envelope("a", 2);
  const auto e_a3 = envelope("a", 3);
  const auto e_b1 = envelope("b", 1);
  const auto e_b2 = envelope("b", 2);
  const std::vector<storage::Store::BatchToStore> group = {
      {&e_a1, &a1, k_t0 + 100},   {&e_a2, &a2, k_t0 + 2'000}, {&e_b1, &b1, k_t0 + 3'000},
      {&e_a2, &a2, k_t0 + 2'500}, {&e_a3, &a3, k_t0 + 1'500}, {&e_b2, &b2, k_t0 + 3'000},
      {&e_b1, &b1, k_t0 + 4'000}};
  CHECK(described(s->record_batches(group)) ==
        std::vector<std::string>{"duplicate", "stored", "stored", "duplicate", "stored", "stored",
                                 "duplicate"});

  auto agents = s->list_agents();
  REQUIRE(agents);
  REQUIRE(agents->size() == 2);
  const auto& a = agent_of(*agents, "a");
  CHECK(a.batches == 3);
  CHECK(a.samples == 5);
  CHECK(a.last_seq == 3);
  CHECK(a.first_seen_ms == k_t0);
  CHECK(a.last_seen_ms == k_t0 + 1'500); // the last one stored, as one by one
  CHECK(a.dropped_batches == 4);
  CHECK(a.dropped_items == 9);
  CHECK(a.latest ==
        std::vector<storage::LatestSample>{{"cpu", "", 2, k_t0 + 1'000}, {"mem", "", 8, k_t0 + 5}});
  const auto& b = agent_of(*agents, "b");
  CHECK(b.batches == 2);
  CHECK(b.samples == 3);
  CHECK(b.last_seq == 2);
  CHECK(b.first_seen_ms == k_t0 + 3'000);
  CHECK(b.last_seen_ms == k_t0 + 3'000);
  CHECK(b.latest == std::vector<storage::LatestSample>{{"cpu", "core=0", 5, k_t0},
                                                       {"new", "", 9, k_t0 + 60'000}});

  // Signals once each, in arrival order, text as sent.
  storage::EventQuery query;
  query.oldest_first = true;
  const auto signals = s->recent_signals(query);
  REQUIRE(signals);
  REQUIRE(signals->size() == 2);
  CHECK(signals->at(0).signal == signal("disk-full", k_t0 + 1'000));
  CHECK(signals->at(0).batch_seq == 2);
  CHECK(signals->at(1).signal.rule == "disk-ok");
  CHECK(signals->at(1).received_ms == k_t0 + 1'500);

  // Budgets: the newest report per (agent, target, action), the later of two equal times.
  const auto budgets = s->list_budgets("");
  REQUIRE(budgets);
  REQUIRE(budgets->size() == 2);
  CHECK(budgets->at(0).agent_id == "a");
  CHECK(budgets->at(0).budget.attempts == 3);
  CHECK(budgets->at(0).updated_ms == k_t0 + 2'000);
  CHECK(budgets->at(1).budget.attempts == 6);

  // Raw samples and roll-ups: each stored batch once.
  CHECK(db.query_int("SELECT COUNT(*) FROM sample_batches") == 5);
  CHECK(db.query_int("SELECT COUNT(*) FROM series") == 4);
  REQUIRE(s->flush_rollups(k_never));
  CHECK(db.query_int("SELECT SUM(count) FROM rollups_minute") == 8);
  storage::SeriesQuery cpu;
  cpu.agent_id = "a";
  cpu.name = "cpu";
  const auto points = s->read_samples(cpu);
  REQUIRE(points);
  CHECK(points->size() == 3);
}

TEMPLATE_TEST_CASE("store: a group bigger than any statement's arrays is stored whole",
                   "[storage][group]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  constexpr int k_agents = 10;
  constexpr int k_per_agent = 260; // 2,600 batches: over two PostgreSQL slices of 1,024
  std::vector<protocol::Envelope> envelopes;
  std::vector<protocol::Batch> batches;
  envelopes.reserve(k_agents * k_per_agent);
  batches.reserve(k_agents * k_per_agent);
  for (int seq = 1; seq <= k_per_agent; ++seq) {
    for (int agent = 0; agent < k_agents; ++agent) {
      envelopes.push_back(envelope("agent-" + std::to_string(agent), seq));
      batches.push_back(
          batch_of({sample("cpu", seq, k_t0 + seq * 100),
                    sample("disk", agent, k_t0, {{"dev", "sd" + std::to_string(seq)}})}));
    }
  }
  std::vector<storage::Store::BatchToStore> group;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    group.push_back({&envelopes[i], &batches[i], k_t0 + static_cast<std::int64_t>(i)});
  }
  const auto outcomes = s->record_batches(group);
  REQUIRE(outcomes.size() == group.size());
  for (const auto& outcome : described(outcomes)) {
    REQUIRE(outcome == "stored");
  }
  auto agents = s->list_agents();
  REQUIRE(agents);
  REQUIRE(agents->size() == k_agents);
  for (const auto& agent : *agents) {
    CHECK(agent.batches == k_per_agent);
    CHECK(agent.samples == 2 * k_per_agent);
    CHECK(agent.last_seq == k_per_agent);
    CHECK(agent.latest.size() == 1 + k_per_agent);
    CHECK(agent.latest.at(0) ==
          storage::LatestSample{"cpu", "", k_per_agent, k_t0 + k_per_agent * 100});
  }
  CHECK(db.query_int("SELECT COUNT(*) FROM sample_batches") == k_agents * k_per_agent);
  REQUIRE(s->flush_rollups(k_never));
  CHECK(db.query_int("SELECT SUM(count) FROM rollups_minute") == 2 * k_agents * k_per_agent);

  // The same group again: every batch a duplicate, nothing counted twice.
  for (const auto& outcome : described(s->record_batches(group))) {
    REQUIRE(outcome == "duplicate");
  }
  agents = s->list_agents();
  REQUIRE(agents);
  CHECK(agents->at(0).batches == k_per_agent);
  CHECK(db.query_int("SELECT COUNT(*) FROM sample_batches") == k_agents * k_per_agent);
}

TEMPLATE_TEST_CASE("store: a failing batch and its copy in the same group both fail alone",
                   "[storage][group]", Sqlite, Postgres) {
  const TestDatabase db(TestType::kind);
  auto s = db.open();
  db.poison_samples();
  const protocol::Batch good = batch_of({sample("cpu", 1, k_t0)});
  const protocol::Batch bad = batch_of({sample("new.series", 2, k_t0), sample("poison", 3, k_t0)});
  const auto a1 = envelope("a", 1);
  const auto b1 = envelope("b", 1);
  const auto c1 = envelope("c", 1);
  const auto empty = envelope("", 1);
  const std::vector<storage::Store::BatchToStore> group = {{&a1, &good, k_t0},
                                                           {&b1, &bad, k_t0},
                                                           {&empty, &good, k_t0},
                                                           {&c1, &good, k_t0},
                                                           {&b1, &bad, k_t0}};
  const auto outcomes = described(s->record_batches(group));
  REQUIRE(outcomes.size() == 5);
  CHECK(outcomes[0] == "stored");
  CHECK_THAT(outcomes[1], Catch::StartsWith("error: recording batch 1 from agent b: ") &&
                              Catch::Contains("poisoned"));
  CHECK_THAT(outcomes[2], Catch::Contains("empty agent id"));
  CHECK(outcomes[3] == "stored");
  // Not a duplicate: the first copy was not stored, so acking this one would lose the batch.
  CHECK_THAT(outcomes[4], Catch::Contains("poisoned"));
  CHECK(db.query_int("SELECT COUNT(*) FROM sample_batches") == 2);
  CHECK(db.query_int("SELECT COUNT(*) FROM series WHERE name = 'new.series'") == 0);

  db.cure_samples();
  CHECK(described(s->record_batches(std::vector<storage::Store::BatchToStore>{
            {&b1, &bad, k_t0}, {&b1, &bad, k_t0}, {&a1, &good, k_t0}})) ==
        std::vector<std::string>{"stored", "duplicate", "duplicate"});
  auto agents = s->list_agents();
  REQUIRE(agents);
  CHECK(agent_of(*agents, "b").batches == 1);
  CHECK(agent_of(*agents, "b").latest.size() == 2);
}
