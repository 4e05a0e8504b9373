// SPDX-License-Identifier: Apache-2.0
#include "coordinator/maintenance/maintenance.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using medic::coordinator::maintenance::Freeze;
using medic::coordinator::maintenance::Maintenance;
using medic::coordinator::maintenance::Target;
using medic::coordinator::maintenance::Window;

namespace {

constexpr std::int64_t k_now = 1'800'000'000'000;

Window window(std::vector<std::string> hosts, std::vector<std::string> groups,
              std::vector<std::string> services, std::int64_t start, std::int64_t end) {
  Window w;
  w.hosts = std::move(hosts);
  w.groups = std::move(groups);
  w.services = std::move(services);
  w.start_ms = start;
  w.end_ms = end;
  return w;
}

} // namespace

TEST_CASE("a window covers its hosts, groups and services while in force", "[maintenance]") {
  Maintenance m;
  REQUIRE(m.add(window({"web-1"}, {}, {}, k_now, k_now + 1000), k_now) == "mw-1");
  REQUIRE(m.add(window({}, {"db"}, {"postgres"}, k_now + 500, k_now + 2000), k_now) == "mw-2");
  const std::vector<std::string> none;
  const std::vector<std::string> postgres{"postgres"};
  CHECK(m.covering({"web-1", "", none}, k_now)->id == "mw-1");
  CHECK(m.covering({"web-2", "", none}, k_now) == nullptr);
  CHECK(m.covering({"web-1", "", none}, k_now + 1000) == nullptr);     // end is exclusive
  CHECK(m.covering({"db-1", "db", postgres}, k_now + 100) == nullptr); // not started
  CHECK(m.covering({"db-1", "db", postgres}, k_now + 500)->id == "mw-2");
  CHECK(m.covering({"db-1", "db", none}, k_now + 500) == nullptr); // another service
  CHECK(m.covering({"db-1", "cache", postgres}, k_now + 500) == nullptr);
}

TEST_CASE("a services-only window covers those services on every host", "[maintenance]") {
  Maintenance m;
  REQUIRE(m.add(window({}, {}, {"nginx"}, k_now, k_now + 1000), k_now));
  const std::vector<std::string> nginx{"nginx"};
  CHECK(m.covering({"any", "", nginx}, k_now) != nullptr);
  CHECK(m.windows_for("any", "").size() == 1);
}

TEST_CASE("bad windows are refused with the reason", "[maintenance]") {
  Maintenance m;
  auto none = m.add(window({}, {}, {}, k_now, k_now + 1000), k_now);
  REQUIRE_FALSE(none);
  CHECK(none.error().message().find("host, a group or a service") != std::string::npos);
  CHECK_FALSE(m.add(window({"a"}, {}, {}, k_now, k_now), k_now));          // empty
  CHECK_FALSE(m.add(window({"a"}, {}, {}, k_now - 10, k_now - 1), k_now)); // over
  CHECK_FALSE(m.add(window({"a"}, {}, {}, k_now, k_now + 400LL * 86'400'000), k_now));
  CHECK_FALSE(m.add(window({std::string(65, 'x')}, {}, {}, k_now, k_now + 1), k_now));
  CHECK_FALSE(m.add(window({""}, {}, {}, k_now, k_now + 1), k_now));
  Window long_reason = window({"a"}, {}, {}, k_now, k_now + 1);
  long_reason.reason.assign(300, 'r');
  CHECK_FALSE(m.add(long_reason, k_now));
  CHECK(m.windows().empty());
  CHECK(m.version() == 0);
}

TEST_CASE("windows are bounded, removable and expire", "[maintenance]") {
  Maintenance m;
  for (std::size_t i = 0; i < medic::coordinator::maintenance::k_max_windows; ++i) {
    REQUIRE(m.add(window({"h" + std::to_string(i)}, {}, {}, k_now, k_now + 1000), k_now));
  }
  CHECK_FALSE(m.add(window({"x"}, {}, {}, k_now, k_now + 1000), k_now));
  REQUIRE(m.remove("mw-1", k_now));
  CHECK_FALSE(m.remove("mw-1", k_now));
  REQUIRE(m.add(window({"x"}, {}, {}, k_now, k_now + 5000), k_now) == "mw-257");
  const auto before = m.version();
  CHECK(m.expire(k_now + 1000));
  CHECK(m.windows().size() == 1);
  CHECK(m.version() > before);
  CHECK_FALSE(m.expire(k_now + 1001));
}

TEST_CASE("the freeze holds until lifted or until its end", "[maintenance]") {
  Maintenance m;
  CHECK_FALSE(m.frozen(k_now));
  Freeze f;
  f.on = true;
  f.reason = "change freeze";
  REQUIRE(m.set_freeze(f, k_now));
  CHECK(m.frozen(k_now + 86'400'000));
  REQUIRE(m.set_freeze(Freeze{}, k_now + 1));
  CHECK_FALSE(m.frozen(k_now + 2));
  f.until_ms = k_now + 100;
  REQUIRE(m.set_freeze(f, k_now));
  CHECK(m.frozen(k_now + 99));
  CHECK_FALSE(m.frozen(k_now + 100));
  CHECK(m.expire(k_now + 100));
  CHECK_FALSE(m.freeze().on);
  f.until_ms = k_now - 1;
  CHECK_FALSE(m.set_freeze(f, k_now));
}

TEST_CASE("the version only grows", "[maintenance]") {
  Maintenance m;
  REQUIRE(m.add(window({"a"}, {}, {}, k_now, k_now + 1000), k_now));
  const auto first = m.version();
  CHECK(first == static_cast<std::uint64_t>(k_now));
  REQUIRE(m.remove("mw-1", k_now - 5000)); // a clock stepped back
  CHECK(m.version() == first + 1);
}

TEST_CASE("the state survives its JSON document", "[maintenance]") {
  Maintenance m;
  Window w = window({"a", "b"}, {"g"}, {"s"}, k_now, k_now + 1000);
  w.notify = true;
  w.reason = "why";
  w.actor = "operator:uid=0";
  REQUIRE(m.add(w, k_now));
  Freeze f;
  f.on = true;
  f.until_ms = k_now + 10;
  REQUIRE(m.set_freeze(f, k_now));
  auto back = Maintenance::from_json(nlohmann::json::parse(m.to_json().dump()));
  REQUIRE(back);
  CHECK(back->windows() == m.windows());
  CHECK(back->freeze() == m.freeze());
  CHECK(back->version() == m.version());
  REQUIRE(back->add(window({"c"}, {}, {}, k_now, k_now + 1), k_now) == "mw-2");
  auto broken = Maintenance::from_json(nlohmann::json{{"version", "x"}});
  REQUIRE_FALSE(broken);
  CHECK(broken.error().message().find("maintenance state") != std::string::npos);
}
