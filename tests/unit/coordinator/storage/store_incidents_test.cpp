// SPDX-License-Identifier: Apache-2.0
// Both backends: incidents round-trip every field, upsert by id, filter and order; the audit trail
// keeps its order; engine state documents are replaced; everything survives a reopen.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/storage/store_backends.hpp"

namespace storage = medic::coordinator::storage;
namespace correlate = medic::coordinator::correlate;
namespace protocol = medic::protocol;
using medic::test::Postgres;
using medic::test::Sqlite;
using medic::test::TestDatabase;

namespace {

storage::IncidentRecord incident(correlate::IncidentId id, std::string host,
                                 std::int64_t last_seen_ms) {
  storage::IncidentRecord record;
  correlate::Incident& i = record.incident;
  i.id = id;
  i.kind = correlate::IncidentKind::host;
  i.fingerprint = "process-down:web@" + host;
  i.agent_id = host + "-agent";
  i.host = std::move(host);
  i.service = "web";
  i.rule = "process-down";
  i.category = protocol::Category::api;
  i.severity = protocol::Severity::high;
  i.layer = correlate::Layer::service;
  i.labels = {{"process", "web"}, {"service", "web"}};
  i.message = "web is down";
  i.value = 0.5;
  i.first_seen_ms = last_seen_ms - 1000;
  i.last_seen_ms = last_seen_ms;
  i.count = 3;
  i.reopened = 1;
  i.root_id = 7;
  i.link = correlate::LinkReason::dependency;
  i.flapping = true;
  i.fleet_hosts = 0;
  record.diagnosis_json = R"({"root_cause":"crashed-service"})";
  record.escalated = true;
  return record;
}

storage::AuditEntry audit(correlate::IncidentId id, std::string kind, std::int64_t time_ms) {
  return {0,
          id,
          time_ms,
          "coordinator",
          std::move(kind),
          "text of " + std::to_string(time_ms),
          R"({"k":1})"};
}

} // namespace

TEMPLATE_TEST_CASE("store: incidents and their audit trail are kept", "[storage]", Sqlite,
                   Postgres) {
  const TestDatabase db(TestType::kind);
  {
    auto opened = db.open();
    auto& store = *opened;
    CHECK(store.max_incident_id() == correlate::IncidentId{0});

    const std::vector<storage::IncidentRecord> first = {incident(1, "web-1", 5000),
                                                        incident(2, "web-2", 6000)};
    const std::vector<storage::AuditEntry> trail = {
        audit(1, "opened", 4000), audit(1, "diagnosed", 4001), audit(2, "opened", 4002)};
    REQUIRE(store.save_incidents(first, trail));

    auto got = store.get_incident(1);
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK(**got == first[0]);
    CHECK(store.get_incident(99).value() == std::nullopt);
    CHECK(store.max_incident_id() == correlate::IncidentId{2});

    // Upsert: the same id again replaces the row.
    auto resolved = first[0];
    resolved.incident.state = correlate::IncidentState::resolved;
    resolved.incident.resolved_ms = 7000;
    resolved.incident.last_seen_ms = 7000;
    resolved.false_positive = true;
    const std::vector<storage::AuditEntry> more = {audit(1, "resolved", 7000)};
    REQUIRE(store.save_incidents(std::span(&resolved, 1), more));
    CHECK(store.get_incident(1).value().value() == resolved);

    auto trail1 = store.incident_audit(1, 100);
    REQUIRE(trail1);
    REQUIRE(trail1->size() == 3);
    CHECK(trail1->at(0).kind == "opened");
    CHECK(trail1->at(1).kind == "diagnosed");
    CHECK(trail1->at(2).kind == "resolved");
    CHECK(trail1->at(0).seq < trail1->at(1).seq);
    CHECK(trail1->at(1).detail_json == R"({"k":1})");
    CHECK(store.incident_audit(1, 2).value().size() == 2);

    REQUIRE(store.put_engine_state("learn", "{\"v\":1}", 100));
    REQUIRE(store.put_engine_state("learn", "{\"v\":2}", 200));
  }
  auto reopened = db.open();
  auto& store = *reopened;
  CHECK(store.get_engine_state("learn").value() == std::optional<std::string>("{\"v\":2}"));
  CHECK(store.get_engine_state("plan").value() == std::nullopt);

  storage::IncidentQuery all;
  auto listed = store.list_incidents(all);
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  CHECK(listed->at(0).incident.id == 1); // last seen 7000, newest first
  CHECK(listed->at(1).incident.id == 2);

  storage::IncidentQuery open;
  open.open_only = true;
  REQUIRE(store.list_incidents(open).value().size() == 1);
  CHECK(store.list_incidents(open).value().at(0).incident.id == 2);

  storage::IncidentQuery by_host;
  by_host.host = "web-1";
  CHECK(store.list_incidents(by_host).value().size() == 1);

  storage::IncidentQuery critical;
  critical.min_severity = protocol::Severity::critical;
  CHECK(store.list_incidents(critical).value().empty());

  storage::IncidentQuery recent;
  recent.since_ms = 6500;
  CHECK(store.list_incidents(recent).value().size() == 1);

  storage::IncidentQuery one;
  one.limit = 1;
  CHECK(store.list_incidents(one).value().size() == 1);
}
