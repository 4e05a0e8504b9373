// SPDX-License-Identifier: Apache-2.0
// decode_into: a Message reused from one frame to the next must decode exactly as a fresh one,
// whatever it held before (a bigger batch, another message type, a decode that failed midway).
// Also the word-at-a-time name check, against the byte-by-byte rule it replaced.
#include <catch2/catch.hpp>

#include "protocol/codec.hpp"
#include "tests/unit/protocol/batch_fixtures.hpp"

using namespace medic::protocol;

namespace {

Envelope envelope_for(std::string agent_id, std::uint64_t seq) {
  Envelope envelope;
  envelope.agent_id = std::move(agent_id);
  envelope.seq = seq;
  envelope.sent_at_ms = 1'700'000'000'000 + static_cast<std::int64_t>(seq);
  return envelope;
}

// Every part of a BATCH filled, with names longer than the small-string buffer.
Batch big_batch() {
  Batch batch;
  for (int i = 0; i < 60; ++i) {
    Sample sample{"mem.available_bytes.long_name_" + std::to_string(i), i * 1.5, 1000 + i, {}};
    if (i % 3 == 0) {
      sample.labels = {{"mount", "/var/lib/something-long-" + std::to_string(i)}, {"dev", "sda"}};
    }
    batch.samples.push_back(std::move(sample));
  }
  Signal signal = medic::test::disk_full_signal();
  batch.signals.push_back(signal);
  LogEvent line = medic::test::auth_failed_line();
  batch.logs.push_back(line);
  CommandResult result;
  result.status = ResultStatus::succeeded;
  result.origin = "local";
  result.params = {{"unit", "web.service"}};
  batch.results.push_back(result);
  batch.budgets.push_back({"proc-down:web", "restart-service", 3, 900, 5000, true});
  batch.evidence.push_back(
      {"proc-down:web", "process-down", "diag-process-tree", 1200, ResultStatus::succeeded, "PID"});
  batch.dropped = {1, 2, 3};
  return batch;
}

// Fewer samples, short names, no labels, no optional parts.
Batch small_batch() {
  Batch batch;
  batch.samples.push_back({"cpu.usage_pct", 12.5, 5, {}});
  batch.samples.push_back({"load.1", -1.0, 6, {}});
  return batch;
}

std::string encoded(const Batch& batch, std::string agent_id = "web-1", std::uint64_t seq = 7) {
  std::string frame;
  encode_batch(frame, envelope_for(std::move(agent_id), seq), batch);
  return frame;
}

// decode_into `reused` must give what a fresh decode gives, field for field.
void check_same_as_fresh(Message& reused, const std::string& frame) {
  auto fresh = decode(frame);
  REQUIRE(fresh);
  REQUIRE(decode_into(reused, frame));
  CHECK(reused.envelope.version == fresh->envelope.version);
  CHECK(reused.envelope.type == fresh->envelope.type);
  CHECK(reused.envelope.agent_id == fresh->envelope.agent_id);
  CHECK(reused.envelope.seq == fresh->envelope.seq);
  CHECK(reused.envelope.sent_at_ms == fresh->envelope.sent_at_ms);
  CHECK(reused.body == fresh->body);
}

std::string name_refusal(std::string_view name) {
  Batch batch;
  batch.samples.push_back({std::string(name), 1.0, 1, {}});
  auto decoded = decode(encoded(batch));
  return decoded ? std::string() : decoded.error().message();
}

} // namespace

TEST_CASE("a reused Message decodes a bigger then a smaller batch as fresh ones", "[protocol]") {
  Message reused;
  const Batch big = big_batch();
  check_same_as_fresh(reused, encoded(big, "a-rather-long-agent-identifier-01", 1));
  CHECK(std::get<Batch>(reused.body) == big);
  const Batch small = small_batch();
  check_same_as_fresh(reused, encoded(small, "db-2", 2));
  CHECK(std::get<Batch>(reused.body) == small);
  CHECK(reused.envelope.agent_id == "db-2");
  // Same number of samples, but where the first had labels the second has none, and back.
  Batch labelled = small;
  labelled.samples[0].labels = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  check_same_as_fresh(reused, encoded(labelled));
  Batch fewer_labels = small;
  fewer_labels.samples[0].labels = {{"z", "9"}};
  check_same_as_fresh(reused, encoded(fewer_labels));
  CHECK(std::get<Batch>(reused.body).samples[0].labels.size() == 1);
  check_same_as_fresh(reused, encoded(small));
  CHECK(std::get<Batch>(reused.body).samples[0].labels.empty());
  check_same_as_fresh(reused, encoded(big));
}

TEST_CASE("a reused Message carries nothing over from a decode that failed midway",
          "[protocol]") {
  const std::string big = encoded(big_batch(), "a-rather-long-agent-identifier-01", 1);
  const std::string small = encoded(small_batch(), "db-2", 2);
  // A frame that fails at sample 40, after it overwrote the first 40 of the reused batch.
  Batch broken = big_batch();
  broken.samples[40].name = "bad\x01name";
  const std::string broken_frame = encoded(broken, "x", 3);
  Message reused;
  REQUIRE(decode_into(reused, big));
  auto failed = decode_into(reused, broken_frame);
  REQUIRE_FALSE(failed);
  CHECK_THAT(failed.error().message(), Catch::Contains("[40]"));
  check_same_as_fresh(reused, small);

  // Every truncation of the big frame fails in a reused Message that held the big batch, and
  // the next decode is still exact.
  for (std::size_t size = 0; size < big.size(); size += 7) {
    REQUIRE(decode_into(reused, big));
    DecodeFailure failure = DecodeFailure::too_large;
    CHECK_FALSE(decode_into(reused, std::string_view(big).substr(0, size), &failure));
    CHECK(failure == DecodeFailure::malformed);
    check_same_as_fresh(reused, small);
  }
  // A failure in the envelope (wrong version) and one in a later part (the drop counts).
  std::string wrong_version = small;
  REQUIRE(static_cast<unsigned char>(wrong_version[1]) == k_version);
  wrong_version[1] = 2;
  DecodeFailure failure = DecodeFailure::malformed;
  CHECK_FALSE(decode_into(reused, wrong_version, &failure));
  CHECK(failure == DecodeFailure::unsupported_version);
  check_same_as_fresh(reused, big);
  std::string bad_drops = big;
  const auto at = bad_drops.find("batches");
  REQUIRE(at != std::string::npos);
  bad_drops[at + 7] = '\xa1'; // the count becomes a string: a wrongly typed field
  CHECK_FALSE(decode_into(reused, bad_drops));
  check_same_as_fresh(reused, small);
}

TEST_CASE("a reused Message switches between message types", "[protocol]") {
  Message reused;
  std::string hello_frame;
  Hello hello;
  hello.host = "web-1.example";
  hello.agent_version = "0.1.0";
  hello.labels = {{"role", "web"}};
  encode_hello(hello_frame, envelope_for("web-1", 0), hello);
  std::string heartbeat_frame;
  encode_heartbeat(heartbeat_frame, envelope_for("web-1", 0), {3, 4096});
  check_same_as_fresh(reused, encoded(big_batch()));
  check_same_as_fresh(reused, hello_frame);
  CHECK(std::get<Hello>(reused.body) == hello);
  check_same_as_fresh(reused, encoded(small_batch()));
  check_same_as_fresh(reused, heartbeat_frame);
  check_same_as_fresh(reused, encoded(big_batch()));
}

TEST_CASE("the word-at-a-time name check agrees with the byte-by-byte rule", "[protocol]") {
  // One byte of every value at every place in ASCII names of 1 to 20 bytes (the check reads
  // 8 bytes at a time, then a padded tail).
  for (std::size_t length = 1; length <= 20; ++length) {
    for (std::size_t place = 0; place < length; ++place) {
      for (int value = 0; value < 256; ++value) {
        std::string name(length, 'm');
        name[place] = static_cast<char>(value);
        const std::string refusal = name_refusal(name);
        INFO("length " << length << ", byte " << value << " at " << place);
        if (value < 0x20 || value == 0x7f) {
          CHECK_THAT(refusal, Catch::Contains("contains control characters"));
        } else if (value >= 0x80) {
          CHECK_THAT(refusal, Catch::Contains("is not valid UTF-8"));
        } else {
          CHECK(refusal.empty());
        }
      }
    }
  }
  CHECK(name_refusal("température.cœur").empty());
  CHECK(name_refusal("温度.センサー.🌡").empty());
  // Control bytes are reported before bad UTF-8, as before.
  CHECK_THAT(name_refusal("caf\xc3\xa9\xff-\x1f"), Catch::Contains("control characters"));
  CHECK_THAT(name_refusal("caf\xc3\xa9-\xed\xa0\x80"), Catch::Contains("is not valid UTF-8"));
  CHECK_THAT(name_refusal(std::string("nul\0inside", 10)), Catch::Contains("control characters"));
}

namespace {

// decode_into `reused` must succeed exactly when decode does, with the same result or reason.
void check_agrees_with_fresh(Message& reused, std::string_view frame) {
  DecodeFailure fresh_failure = DecodeFailure::malformed;
  DecodeFailure reused_failure = DecodeFailure::too_large;
  auto fresh = decode(frame, &fresh_failure);
  auto into = decode_into(reused, frame, &reused_failure);
  REQUIRE(into.has_value() == fresh.has_value());
  if (!fresh) {
    CHECK(into.error().message() == fresh.error().message());
    CHECK(reused_failure == fresh_failure);
    return;
  }
  CHECK(reused.envelope.agent_id == fresh->envelope.agent_id);
  CHECK(reused.envelope.type == fresh->envelope.type);
  CHECK(reused.envelope.seq == fresh->envelope.seq);
  CHECK(reused.envelope.sent_at_ms == fresh->envelope.sent_at_ms);
  CHECK(reused.body == fresh->body);
}

} // namespace

TEST_CASE("one Message reused through every byte mutation of a batch agrees with fresh decodes",
          "[protocol]") {
  const std::string big = encoded(big_batch(), "a-rather-long-agent-identifier-01", 1);
  const std::string small = encoded(small_batch(), "db-2", 2);
  Message reused;
  // Each result stays in `reused` for the next frame: a chain of successes and failures at
  // every place in the frame, with small and big batches in between.
  for (std::size_t place = 0; place < big.size(); ++place) {
    for (const int value : {0x00, 0x7f, 0xc1, 0xff}) {
      std::string mutated = big;
      mutated[place] = static_cast<char>(value);
      check_agrees_with_fresh(reused, mutated);
    }
    if (place % 64 == 0) {
      check_agrees_with_fresh(reused, place % 128 == 0 ? small : big);
    }
  }
  check_agrees_with_fresh(reused, small);
}
