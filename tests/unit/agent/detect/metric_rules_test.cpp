// SPDX-License-Identifier: Apache-2.0
#include "agent/detect/metric_rules.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace medic::agent::detect;
namespace protocol = medic::protocol;
using namespace std::chrono_literals;

namespace {

struct Seen {
  std::string rule;
  protocol::SignalState state;
  std::string fingerprint;
  double value;
  std::string mount;
  std::string message;
};

struct Recorder {
  std::vector<Seen> seen;
  SignalOut out() {
    return [this](const protocol::SignalView& s) {
      std::string mount;
      for (const auto& label : s.labels) {
        if (label.name == "mount") {
          mount = label.value;
        }
      }
      seen.push_back({std::string(s.rule), s.state, std::string(s.fingerprint), s.value, mount,
                      std::string(s.message)});
    };
  }
};

MetricRule disk_rule() {
  medic::detect::ThresholdSpec spec;
  spec.fire_level = 90;
  spec.clear_level = 85;
  spec.for_duration = 2s;
  MetricRule rule;
  rule.id = "disk-almost-full";
  rule.metric = "disk.used_pct";
  rule.severity = protocol::Severity::high;
  rule.spec = spec;
  rule.summary = "disk almost full";
  return rule;
}

} // namespace

TEST_CASE("a threshold rule fires per series after its hold and clears with hysteresis",
          "[metricrules]") {
  auto rules = MetricRules::create({disk_rule()});
  REQUIRE(rules);
  Recorder recorder;
  const auto out = recorder.out();
  const protocol::LabelView root[] = {{"mount", "/"}};
  const protocol::LabelView var[] = {{"mount", "/var"}};
  for (int s = 0; s <= 3; ++s) {
    rules->observe("disk.used_pct", 95, 1000 + s, s * 1000, var, out);
    rules->observe("disk.used_pct", 50, 1000 + s, s * 1000, root, out);
    rules->observe("cpu.usage_pct", 99, 1000 + s, s * 1000, {}, out);
  }
  REQUIRE(recorder.seen.size() == 1); // /var fired at t=2s; / never; cpu has no rule
  CHECK(recorder.seen[0].rule == "disk-almost-full");
  CHECK(recorder.seen[0].state == protocol::SignalState::firing);
  CHECK(recorder.seen[0].mount == "/var");
  CHECK(recorder.seen[0].value == 95);
  CHECK(recorder.seen[0].message.find("disk almost full: disk.used_pct fired") == 0);
  rules->observe("disk.used_pct", 88, 2000, 4000, var, out); // inside the band: still firing
  CHECK(recorder.seen.size() == 1);
  rules->observe("disk.used_pct", 80, 2001, 5000, var, out);
  REQUIRE(recorder.seen.size() == 2);
  CHECK(recorder.seen[1].state == protocol::SignalState::cleared);
  CHECK(recorder.seen[1].fingerprint == recorder.seen[0].fingerprint);
  CHECK(rules->series_count() == 2);
}

TEST_CASE("fingerprints depend on rule and labels, not on label order", "[metricrules]") {
  const protocol::LabelView ab[] = {{"a", "1"}, {"b", "2"}};
  const protocol::LabelView ba[] = {{"b", "2"}, {"a", "1"}};
  const protocol::LabelView other[] = {{"a", "1"}, {"b", "3"}};
  CHECK(fingerprint("r", ab) == fingerprint("r", ba));
  CHECK(fingerprint("r", ab) != fingerprint("r", other));
  CHECK(fingerprint("r", ab) != fingerprint("s", ab));
  CHECK(fingerprint("r", ab).size() == 16);
}

TEST_CASE("label matches restrict a rule and max_series bounds it", "[metricrules]") {
  MetricRule rule = disk_rule();
  rule.match = {{"mount", "/"}};
  MetricRule many = disk_rule();
  many.id = "any-disk";
  many.max_series = 2;
  auto rules = MetricRules::create({rule, many});
  REQUIRE(rules);
  Recorder recorder;
  const auto out = recorder.out();
  for (const char* mount : {"/", "/a", "/b", "/c"}) {
    const protocol::LabelView labels[] = {{"mount", mount}};
    rules->observe("disk.used_pct", 99, 0, 0, labels, out);
  }
  CHECK(rules->series_count() == 3); // "/" for the first rule; "/" and "/a" for the second
  CHECK(rules->counters().series_refused == 2);
}

TEST_CASE("bad rules are refused with their id", "[metricrules]") {
  MetricRule twice = disk_rule();
  auto duplicate = MetricRules::create({disk_rule(), twice});
  REQUIRE_FALSE(duplicate);
  CHECK(duplicate.error().message().find("'disk-almost-full': the id is used twice") !=
        std::string::npos);
  MetricRule bad = disk_rule();
  medic::detect::ThresholdSpec spec;
  spec.fire_level = 80;
  spec.clear_level = 90;
  bad.spec = spec;
  auto invalid = MetricRules::create({bad});
  REQUIRE_FALSE(invalid);
  CHECK(invalid.error().message().find("rule 'disk-almost-full'") != std::string::npos);
  MetricRule spaced = disk_rule();
  spaced.id = "has space";
  CHECK_FALSE(MetricRules::create({spaced}));
}

TEST_CASE("a rate rule reports the rate as its value", "[metricrules]") {
  medic::detect::RateSpec spec;
  spec.fire_level = 10;
  spec.window = 10s;
  MetricRule rule;
  rule.id = "errors-rising";
  rule.metric = "net.rx_errors_per_s";
  rule.spec = spec;
  auto rules = MetricRules::create({rule});
  REQUIRE(rules);
  Recorder recorder;
  const auto out = recorder.out();
  for (int s = 0; s < 5; ++s) {
    rules->observe("net.rx_errors_per_s", s * 20.0, s * 1000, s * 1000, {}, out);
  }
  REQUIRE_FALSE(recorder.seen.empty());
  CHECK(recorder.seen[0].value == Approx(20.0));
}

TEST_CASE("each sample reaches every rule on its metric, in config order, and no other",
          "[metricrules]") {
  // Rules on several metrics, listed out of name order, two of them on one metric.
  auto make = [](const char* id, const char* metric, double level) {
    MetricRule rule = disk_rule();
    rule.id = id;
    rule.metric = metric;
    auto spec = std::get<medic::detect::ThresholdSpec>(rule.spec);
    spec.fire_level = level;
    spec.clear_level = level - 1;
    spec.for_duration = 0s;
    rule.spec = spec;
    return rule;
  };
  auto rules =
      MetricRules::create({make("z-mem", "mem.used_pct", 50), make("b-disk", "disk.used_pct", 90),
                           make("a-cpu", "cpu.usage_pct", 50), make("c-disk", "disk.used_pct", 80),
                           make("y-load", "load.1m", 5)});
  REQUIRE(rules);
  Recorder recorder;
  const auto out = recorder.out();
  rules->observe("disk.used", 99, 1000, 0, {}, out);       // a prefix of a metric: no rule
  rules->observe("disk.used_pct_x", 99, 1000, 0, {}, out); // longer: no rule
  rules->observe("a", 99, 1000, 0, {}, out);               // before every name
  rules->observe("zz", 99, 1000, 0, {}, out);              // after every name
  CHECK(recorder.seen.empty());
  rules->observe("disk.used_pct", 95, 1000, 0, {}, out);
  REQUIRE(recorder.seen.size() == 2);
  CHECK(recorder.seen[0].rule == "b-disk"); // config order, not id order
  CHECK(recorder.seen[1].rule == "c-disk");
  rules->observe("mem.used_pct", 60, 1000, 0, {}, out);
  rules->observe("cpu.usage_pct", 60, 1000, 0, {}, out);
  rules->observe("load.1m", 6, 1000, 0, {}, out);
  REQUIRE(recorder.seen.size() == 5);
  CHECK(recorder.seen[2].rule == "z-mem");
  CHECK(recorder.seen[3].rule == "a-cpu");
  CHECK(recorder.seen[4].rule == "y-load");
  CHECK(rules->counters().samples_seen == 4);
}

TEST_CASE("with many metrics each sample still finds exactly its own rules", "[metricrules]") {
  // 300 metrics: the name table is probed past collisions, and a name it lacks ends at a
  // free slot.
  std::vector<MetricRule> list;
  for (int i = 0; i < 300; ++i) {
    MetricRule rule = disk_rule();
    rule.id = "rule-" + std::to_string(i);
    rule.metric = "metric." + std::to_string(i);
    auto spec = std::get<medic::detect::ThresholdSpec>(rule.spec);
    spec.for_duration = 0s;
    rule.spec = spec;
    list.push_back(std::move(rule));
  }
  auto rules = MetricRules::create(std::move(list));
  REQUIRE(rules);
  Recorder recorder;
  const auto out = recorder.out();
  for (int i = 0; i < 300; ++i) {
    rules->observe("metric.x" + std::to_string(i), 99, 1000, 0, {}, out); // no such metric
    rules->observe("", 99, 1000, 0, {}, out);
  }
  CHECK(recorder.seen.empty());
  for (int i = 299; i >= 0; --i) {
    rules->observe("metric." + std::to_string(i), 99, 1000, 0, {}, out);
    REQUIRE(recorder.seen.size() == static_cast<std::size_t>(300 - i));
    CHECK(recorder.seen.back().rule == "rule-" + std::to_string(i));
  }
  CHECK(rules->counters().samples_seen == 300);
}
