// SPDX-License-Identifier: Apache-2.0
// Correlator: folding, the quiet period, reopening, flapping, max_open and restore.
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/correlate/correlate_support.hpp"

using namespace medic::coordinator::correlate;
using namespace medic::coordinator::correlate::test;
namespace protocol = medic::protocol;

TEST_CASE("correlate: repeats fold into the open incident of their agent and fingerprint",
          "[correlate]") {
  Correlator correlator(no_fleet());
  const auto opened = correlator.on_signal(input({}), k_t0);
  REQUIRE(kinds(opened) == std::vector{EventKind::opened});
  const Incident& first_snapshot = opened.front().incident;
  CHECK(first_snapshot.count == 1);
  CHECK(first_snapshot.host == "web-1");
  CHECK(first_snapshot.layer == Layer::resource);
  CHECK(first_snapshot.state == IncidentState::open);

  const auto folded = correlator.on_signal(input({}), k_t0 + k_second);
  REQUIRE(kinds(folded) == std::vector{EventKind::folded});
  CHECK(folded.front().incident.id == first_snapshot.id);
  CHECK(folded.front().incident.count == 2);
  CHECK(folded.front().incident.last_seen_ms == k_t0 + k_second);
  CHECK(folded.front().detail == "signal disk-full fired again (count 2)");

  const auto raised =
      correlator.on_signal(input({.severity = protocol::Severity::critical}), k_t0 + 2 * k_second);
  REQUIRE(kinds(raised) == std::vector{EventKind::severity_raised});
  CHECK(raised.front().incident.severity == protocol::Severity::critical);
  // A milder repeat keeps the worst severity seen.
  const auto milder =
      correlator.on_signal(input({.severity = protocol::Severity::low}), k_t0 + 3 * k_second);
  CHECK(milder.front().incident.severity == protocol::Severity::critical);

  // Another agent, or another fingerprint, is another incident.
  CHECK(opened_id(correlator.on_signal(input({.agent = "web-2"}), k_t0)) != first_snapshot.id);
  CHECK(opened_id(correlator.on_signal(input({.fingerprint = "oom"}), k_t0)) != first_snapshot.id);
  CHECK(correlator.open_count() == 3);
}

TEST_CASE("correlate: a cleared incident resolves after the quiet period without a new firing",
          "[correlate]") {
  Correlator correlator(no_fleet()); // quiet period 2m
  const IncidentId id = opened_id(correlator.on_signal(input({}), k_t0));
  const auto clear = correlator.on_signal(cleared({}), k_t0 + k_minute);
  REQUIRE(kinds(clear) == std::vector{EventKind::cleared});
  CHECK(clear.front().detail.find("resolves after 2m") != std::string::npos);
  CHECK(correlator.tick(k_t0 + 2 * k_minute).empty());
  const auto resolved = correlator.tick(k_t0 + 3 * k_minute);
  REQUIRE(kinds(resolved) == std::vector{EventKind::resolved});
  CHECK(resolved.front().incident.id == id);
  CHECK(resolved.front().incident.resolved_ms == k_t0 + 3 * k_minute);
  CHECK(correlator.find(id)->state == IncidentState::resolved);
  CHECK(correlator.open_count() == 0);
  CHECK(correlator.resolved_incidents().size() == 1);

  SECTION("a clear for nothing open is ignored") {
    CHECK(correlator.on_signal(cleared({.fingerprint = "never"}), k_t0).empty());
  }
}

TEST_CASE("correlate: a firing during the quiet period keeps the incident open", "[correlate]") {
  Correlator correlator(no_fleet());
  const IncidentId id = opened_id(correlator.on_signal(input({}), k_t0));
  (void)correlator.on_signal(cleared({}), k_t0 + k_minute);
  const auto again = correlator.on_signal(input({}), k_t0 + 2 * k_minute);
  REQUIRE(kinds(again) == std::vector{EventKind::folded});
  CHECK(correlator.tick(k_t0 + 10 * k_minute).empty());
  CHECK(correlator.find(id)->state == IncidentState::open);
}

TEST_CASE("correlate: a fire within the reopen window reopens the same incident", "[correlate]") {
  Correlator correlator(no_fleet()); // reopen window 1h
  const IncidentId id = opened_id(correlator.on_signal(input({}), k_t0));
  (void)correlator.on_signal(cleared({}), k_t0);
  (void)correlator.tick(k_t0 + 2 * k_minute);
  const auto reopened = correlator.on_signal(input({}), k_t0 + 30 * k_minute);
  REQUIRE(kinds(reopened) == std::vector{EventKind::reopened});
  const Incident& incident = reopened.front().incident;
  CHECK(incident.id == id);
  CHECK(incident.reopened == 1);
  CHECK(incident.count == 2);
  CHECK(incident.state == IncidentState::open);
  CHECK(incident.resolved_ms == 0);
  CHECK(reopened.front().detail ==
        "signal disk-full fired again 28m after the incident resolved: reopened (time 1)");

  SECTION("after the reopen window it is forgotten and a new incident opens") {
    (void)correlator.on_signal(cleared({}), k_t0 + 30 * k_minute);
    (void)correlator.tick(k_t0 + 32 * k_minute);
    (void)correlator.tick(k_t0 + 93 * k_minute);
    CHECK(correlator.find(id) == nullptr);
    const auto fresh = correlator.on_signal(input({}), k_t0 + 94 * k_minute);
    REQUIRE(kinds(fresh) == std::vector{EventKind::opened});
    CHECK(fresh.front().incident.id != id);
  }
}

TEST_CASE("correlate: more than flap_count openings within the flap window mark it flapping once",
          "[correlate]") {
  Correlator correlator(no_fleet()); // flap_count 3 within 1h, quiet 2m
  std::vector<EventKind> flaps;
  std::int64_t now = k_t0;
  for (int round = 0; round < 6; ++round) {
    for (const auto& event : correlator.on_signal(input({}), now)) {
      if (event.kind == EventKind::flapping) {
        flaps.push_back(event.kind);
        CHECK(round == 3); // the fourth opening
        CHECK(event.incident.flapping);
      }
    }
    (void)correlator.on_signal(cleared({}), now);
    (void)correlator.tick(now + 2 * k_minute);
    now += 5 * k_minute;
  }
  CHECK(flaps.size() == 1);
  CHECK(correlator.resolved_incidents().front().flapping);

  SECTION("openings spread wider than the window do not flap") {
    Correlator slow(no_fleet());
    for (int round = 0; round < 6; ++round) {
      const std::int64_t at = k_t0 + round * 25 * k_minute;
      CHECK_FALSE(has(slow.on_signal(input({}), at), EventKind::flapping));
      (void)slow.on_signal(cleared({}), at);
      (void)slow.tick(at + 2 * k_minute);
    }
  }
}

TEST_CASE("correlate: beyond max_open a new fingerprint is dropped and counted", "[correlate]") {
  CorrelationConfig config = no_fleet();
  config.max_open = 3;
  Correlator correlator(config);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(has(correlator.on_signal(input({.fingerprint = "f" + std::to_string(i)}), k_t0),
                EventKind::opened));
  }
  CHECK(correlator.on_signal(input({.fingerprint = "f3"}), k_t0).empty());
  CHECK(correlator.dropped() == 1);
  // Known incidents still fold.
  CHECK(kinds(correlator.on_signal(input({.fingerprint = "f0"}), k_t0)) ==
        std::vector{EventKind::folded});
  CHECK(correlator.open_count() == 3);
  // Once one resolves there is room again; resolved ones are kept at most max_open.
  (void)correlator.on_signal(cleared({.fingerprint = "f0"}), k_t0);
  (void)correlator.tick(k_t0 + 2 * k_minute);
  CHECK(has(correlator.on_signal(input({.fingerprint = "f3"}), k_t0 + 3 * k_minute),
            EventKind::opened));
  for (int i = 4; i < 20; ++i) {
    const std::string fp = "f" + std::to_string(i);
    (void)correlator.on_signal(cleared({.fingerprint = "f" + std::to_string(i - 3)}), k_t0);
    (void)correlator.tick(k_t0 + 4 * k_minute + i);
    (void)correlator.on_signal(input({.fingerprint = fp}), k_t0 + 4 * k_minute + i);
    CHECK(correlator.resolved_incidents().size() <= 3);
    CHECK(correlator.open_count() <= 3);
  }
}

TEST_CASE("correlate: restore brings back open and resolved incidents and the next id",
          "[correlate]") {
  Correlator before(no_fleet());
  const IncidentId open_id = opened_id(before.on_signal(input({}), k_t0));
  const IncidentId gone_id = opened_id(before.on_signal(input({.fingerprint = "oom"}), k_t0));
  (void)before.on_signal(cleared({.fingerprint = "oom"}), k_t0);
  (void)before.tick(k_t0 + 2 * k_minute);

  std::vector<Incident> stored = before.open_incidents();
  for (auto& incident : before.resolved_incidents()) {
    stored.push_back(incident);
  }
  Correlator after(no_fleet());
  after.restore(stored, 1);
  CHECK(after.next_id() == std::max(open_id, gone_id) + 1);
  CHECK(after.open_count() == 1);
  CHECK(kinds(after.on_signal(input({}), k_t0 + 3 * k_minute)) == std::vector{EventKind::folded});
  const auto reopened = after.on_signal(input({.fingerprint = "oom"}), k_t0 + 3 * k_minute);
  REQUIRE(kinds(reopened) == std::vector{EventKind::reopened});
  CHECK(reopened.front().incident.id == gone_id);
  const auto fresh = after.on_signal(input({.fingerprint = "new"}), k_t0 + 3 * k_minute);
  CHECK(opened_id(fresh) == after.next_id() - 1);
  CHECK(opened_id(fresh) > gone_id);
}

TEST_CASE(
    "correlate: 20000 signals over 1000 agents fold into one incident per agent and "
    "fingerprint",
    "[correlate]") {
  Correlator correlator(no_fleet());
  std::size_t opened = 0;
  std::size_t folded = 0;
  for (int i = 0; i < 20'000; ++i) {
    const std::string agent = "host-" + std::to_string(i % 1000);
    const std::string fp = "rule-" + std::to_string((i / 1000) % 4);
    for (const auto& event :
         correlator.on_signal(input({.agent = agent, .fingerprint = fp}), k_t0 + i)) {
      opened += event.kind == EventKind::opened ? 1 : 0;
      folded += event.kind == EventKind::folded ? 1 : 0;
    }
  }
  CHECK(opened == 4000);
  CHECK(folded == 16'000);
  const auto open = correlator.open_incidents();
  REQUIRE(open.size() == 4000);
  for (const auto& incident : open) {
    CHECK(incident.count == 5);
  }
  CHECK(correlator.dropped() == 0);
}
