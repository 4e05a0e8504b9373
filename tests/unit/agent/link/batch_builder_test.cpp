// SPDX-License-Identifier: Apache-2.0
#include "agent/link/batch_builder.hpp"

#include <string>

#include <catch2/catch.hpp>

using medic::agent::link::BatchBuilder;
using medic::agent::link::BatchLimits;
using medic::agent::link::utf8_prefix;
namespace protocol = medic::protocol;

TEST_CASE("samples keep copies of their names and labels", "[batch]") {
  BatchBuilder builder(BatchLimits{});
  {
    std::string name = "disk.used_pct";
    std::string mount = "/var";
    const protocol::LabelView labels[] = {{"mount", mount}};
    REQUIRE(builder.add_sample(name, 81.5, 1000, labels));
    name.assign("XXXXXXXXXXXXX");
    mount.assign("XXXX");
  }
  const auto batch = builder.samples_batch();
  REQUIRE(batch.samples.size() == 1);
  CHECK(batch.samples[0].name == "disk.used_pct");
  REQUIRE(batch.samples[0].labels.size() == 1);
  CHECK(batch.samples[0].labels[0].value == "/var");
  CHECK(builder.events_empty());
}

TEST_CASE("a full samples part refuses until cleared, events are separate", "[batch]") {
  BatchLimits limits;
  limits.max_samples = 2;
  BatchBuilder builder(limits);
  CHECK(builder.add_sample("a", 1, 1));
  CHECK(builder.add_sample("b", 2, 1));
  CHECK_FALSE(builder.add_sample("c", 3, 1));
  protocol::SignalView signal;
  signal.rule = "cpu-high";
  signal.fingerprint = "f1";
  CHECK(builder.add_signal(signal));
  builder.clear_samples();
  CHECK(builder.samples_empty());
  CHECK_FALSE(builder.events_empty());
  CHECK(builder.add_sample("c", 3, 1));
  CHECK(builder.events_batch().signals.size() == 1);
}

TEST_CASE("the arena bounds the bytes held, an item too big for any batch is dropped", "[batch]") {
  BatchLimits limits;
  limits.sample_arena_bytes = 16;
  BatchBuilder builder(limits);
  CHECK(builder.add_sample("0123456789", 1, 1));
  CHECK_FALSE(builder.add_sample("0123456789", 1, 1)); // full: flush first
  builder.clear_samples();
  CHECK(builder.add_sample(std::string(40, 'x'), 1, 1)); // never fits: dropped, counted
  CHECK(builder.samples_empty());
  CHECK(builder.items_refused() == 1);
}

TEST_CASE("log text is cut at a character boundary and labels are capped", "[batch]") {
  BatchLimits limits;
  limits.max_event_text_bytes = 5;
  limits.max_labels_per_item = 1;
  BatchBuilder builder(limits);
  const protocol::LabelView labels[] = {{"a", "1"}, {"b", "2"}};
  protocol::LogEventView event;
  event.source = "app";
  event.path = "/var/log/app.log";
  event.text = "abcd\xc3\xa9xyz"; // 'é' straddles the 5-byte cut
  event.labels = labels;
  REQUIRE(builder.add_log(event));
  const auto batch = builder.events_batch();
  REQUIRE(batch.logs.size() == 1);
  CHECK(batch.logs[0].text == "abcd");
  CHECK(batch.logs[0].labels.size() == 1);
  CHECK(builder.labels_dropped() == 1);
}

TEST_CASE("utf8_prefix never ends inside a sequence", "[batch]") {
  CHECK(utf8_prefix("h\xe2\x82\xacllo", 2) == "h");
  CHECK(utf8_prefix("h\xe2\x82\xacllo", 4) == "h\xe2\x82\xac");
  CHECK(utf8_prefix("short", 10) == "short");
  CHECK(utf8_prefix("\x80\x80\x80", 2).empty());
}
