// SPDX-License-Identifier: Apache-2.0
// The Prometheus text format 0.0.4 as the registry renders it, checked against text written by
// hand: HELP and TYPE lines, label value escaping, histogram buckets with +Inf, _sum and
// _count, values, and names Prometheus would refuse. Also: updates from several threads at
// once are all counted (atomics, no lock on the hot path).
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "coordinator/metrics/exposition.hpp"
#include "coordinator/metrics/registry.hpp"

namespace metrics = medic::coordinator::metrics;

namespace {

std::string value_text(double value) {
  std::string out;
  metrics::append_value(out, value);
  return out;
}

std::string escaped_label(std::string_view value) {
  std::string out;
  metrics::append_label_value_escaped(out, value);
  return out;
}

} // namespace

TEST_CASE("exposition: a counter and a gauge with labels, by hand", "[metrics]") {
  metrics::Registry registry;
  auto& requests = registry.counter("medic_test_requests_total", "Requests served", {"code"});
  auto& depth = registry.gauge("medic_test_queue_depth", "Items waiting");
  requests.with({"200"}).inc(3);
  requests.with({"500"}).inc();
  depth.get().set(7);
  CHECK(registry.render() ==
        "# HELP medic_test_requests_total Requests served\n"
        "# TYPE medic_test_requests_total counter\n"
        "medic_test_requests_total{code=\"200\"} 3\n"
        "medic_test_requests_total{code=\"500\"} 1\n"
        "# HELP medic_test_queue_depth Items waiting\n"
        "# TYPE medic_test_queue_depth gauge\n"
        "medic_test_queue_depth 7\n");
}

TEST_CASE("exposition: label values and HELP text are escaped", "[metrics]") {
  CHECK(escaped_label(R"(C:\dir)") == R"(C:\\dir)");
  CHECK(escaped_label("say \"hi\"") == R"(say \"hi\")");
  CHECK(escaped_label("two\nlines") == R"(two\nlines)");
  CHECK(escaped_label("plain-value_1.2") == "plain-value_1.2");

  metrics::Registry registry;
  auto& family =
      registry.counter("medic_test_total", "A \\ backslash\nand a \"quote\"", {"path", "note"});
  family.with({"C:\\tmp", "a \"b\"\nc"}).inc(2);
  // HELP escapes backslash and line feed but keeps the double quote as it is.
  CHECK(registry.render() ==
        "# HELP medic_test_total A \\\\ backslash\\nand a \"quote\"\n"
        "# TYPE medic_test_total counter\n"
        "medic_test_total{path=\"C:\\\\tmp\",note=\"a \\\"b\\\"\\nc\"} 2\n");
}

TEST_CASE("exposition: a histogram has cumulative buckets, +Inf, _sum and _count", "[metrics]") {
  metrics::Registry registry;
  const std::array<double, 3> bounds = {0.125, 0.5, 1};
  auto& latency = registry.histogram("medic_test_seconds", "Latency", bounds, {"op"});
  auto& writes = latency.with({"write"});
  writes.observe(0.0625); // <= 0.125
  writes.observe(0.125);  // le is inclusive: <= 0.125
  writes.observe(0.25);   // <= 0.5
  writes.observe(2.5);    // +Inf only
  latency.with({"read"}); // created, never observed: all zero
  CHECK(registry.render() ==
        "# HELP medic_test_seconds Latency\n"
        "# TYPE medic_test_seconds histogram\n"
        "medic_test_seconds_bucket{op=\"read\",le=\"0.125\"} 0\n"
        "medic_test_seconds_bucket{op=\"read\",le=\"0.5\"} 0\n"
        "medic_test_seconds_bucket{op=\"read\",le=\"1\"} 0\n"
        "medic_test_seconds_bucket{op=\"read\",le=\"+Inf\"} 0\n"
        "medic_test_seconds_sum{op=\"read\"} 0\n"
        "medic_test_seconds_count{op=\"read\"} 0\n"
        "medic_test_seconds_bucket{op=\"write\",le=\"0.125\"} 2\n"
        "medic_test_seconds_bucket{op=\"write\",le=\"0.5\"} 3\n"
        "medic_test_seconds_bucket{op=\"write\",le=\"1\"} 3\n"
        "medic_test_seconds_bucket{op=\"write\",le=\"+Inf\"} 4\n"
        "medic_test_seconds_sum{op=\"write\"} 2.9375\n"
        "medic_test_seconds_count{op=\"write\"} 4\n");
}

TEST_CASE("exposition: a histogram without labels", "[metrics]") {
  metrics::Registry registry;
  const std::array<double, 2> bounds = {0.001, 0.01};
  registry.histogram("medic_test_write_seconds", "Write time", bounds).get().observe(0.005);
  CHECK(registry.render() ==
        "# HELP medic_test_write_seconds Write time\n"
        "# TYPE medic_test_write_seconds histogram\n"
        "medic_test_write_seconds_bucket{le=\"0.001\"} 0\n"
        "medic_test_write_seconds_bucket{le=\"0.01\"} 1\n"
        "medic_test_write_seconds_bucket{le=\"+Inf\"} 1\n"
        "medic_test_write_seconds_sum 0.005\n"
        "medic_test_write_seconds_count 1\n");
}

TEST_CASE("exposition: values are written as Prometheus reads them", "[metrics]") {
  CHECK(value_text(3) == "3");
  CHECK(value_text(0) == "0");
  CHECK(value_text(-2.5) == "-2.5");
  CHECK(value_text(0.1) == "0.1");
  CHECK(value_text(0.0005) == "0.0005");
  CHECK(value_text(1795455365.640827) == "1795455365.640827");
  CHECK(value_text(1e21) == "1e+21");
  CHECK(value_text(1e-9) == "1e-09");
  CHECK(value_text(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(value_text(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(value_text(std::nan("")) == "NaN");
  std::string big;
  metrics::append_value(big, std::uint64_t{18'446'744'073'709'551'615U});
  CHECK(big == "18446744073709551615");
  metrics::Registry registry;
  registry.real_counter("medic_test_cpu_seconds_total", "CPU").get().set(1.25);
  CHECK(registry.render() ==
        "# HELP medic_test_cpu_seconds_total CPU\n"
        "# TYPE medic_test_cpu_seconds_total counter\n"
        "medic_test_cpu_seconds_total 1.25\n");
}

TEST_CASE("exposition: names Prometheus would refuse are refused at registration", "[metrics]") {
  CHECK(metrics::valid_metric_name("medic_ingest_batches_total"));
  CHECK(metrics::valid_metric_name("job:rate5m"));
  CHECK_FALSE(metrics::valid_metric_name("9lives"));
  CHECK_FALSE(metrics::valid_metric_name("medic-ingest"));
  CHECK_FALSE(metrics::valid_metric_name(""));
  CHECK(metrics::valid_label_name("sink"));
  CHECK_FALSE(metrics::valid_label_name("__name__"));
  CHECK_FALSE(metrics::valid_label_name("a:b"));

  metrics::Registry registry;
  registry.counter("medic_twice_total", "once");
  CHECK_THROWS_AS(registry.counter("medic_twice_total", "again"), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("bad-name", "x"), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("medic_ok", "x", {"bad-label"}), std::invalid_argument);
  const std::array<double, 2> bounds = {1, 2};
  CHECK_THROWS_AS(registry.histogram("medic_h", "x", bounds, {"le"}), std::invalid_argument);
  const std::array<double, 2> unsorted = {2, 1};
  CHECK_THROWS_AS(registry.histogram("medic_h2", "x", unsorted), std::invalid_argument);
}

TEST_CASE("exposition: label sets beyond the bound are counted, not exported", "[metrics]") {
  metrics::Registry registry;
  auto& family = registry.counter("medic_test_many_total", "Many", {"id"});
  for (std::size_t i = 0; i < metrics::k_max_series_per_family + 5; ++i) {
    family.with({std::to_string(i)}).inc();
  }
  CHECK(registry.series_refused() == 5);
  family.with({"wrong", "arity"}).inc();
  CHECK(registry.series_refused() == 6);
  const std::string text = registry.render();
  CHECK(text.find("medic_test_many_total{id=\"999\"} 1\n") != std::string::npos);
  CHECK(text.find("id=\"1000\"") == std::string::npos);
}

TEST_CASE("exposition: updates from several threads are all counted", "[metrics]") {
  metrics::Registry registry;
  auto& counter = registry.counter("medic_test_hits_total", "Hits", {"thread"});
  auto& shared = registry.counter("medic_test_shared_total", "Shared").get();
  const std::array<double, 1> bounds = {0.5};
  auto& histogram = registry.histogram("medic_test_h_seconds", "H", bounds).get();
  auto& gauge = registry.gauge("medic_test_level", "Level").get();
  constexpr int k_threads = 4;
  constexpr int k_each = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = counter.with({std::to_string(t)});
      for (int i = 0; i < k_each; ++i) {
        mine.inc();
        shared.inc();
        histogram.observe(1);
        gauge.add(1);
      }
    });
  }
  std::string during = registry.render(); // rendering while they update is safe
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(shared.value() == k_threads * k_each);
  CHECK(gauge.value() == k_threads * k_each);
  const auto snapshot = histogram.snapshot();
  CHECK(snapshot.cumulative.back() == k_threads * k_each);
  CHECK(snapshot.sum == k_threads * k_each);
  CHECK(counter.with({"3"}).value() == k_each);
  CHECK(during.find("# TYPE medic_test_hits_total counter") != std::string::npos);
}
