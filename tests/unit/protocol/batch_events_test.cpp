// SPDX-License-Identifier: Apache-2.0
// BATCH signals and log events: round trips, views, and the refusals PROTOCOL.md lists.
#include <catch2/catch.hpp>

#include "protocol/codec.hpp"
#include "tests/unit/protocol/batch_fixtures.hpp"

using namespace medic::protocol;

namespace {

Envelope batch_envelope() {
  Envelope envelope;
  envelope.agent_id = "db-1";
  envelope.seq = 42;
  envelope.sent_at_ms = 1'700'000'000'000;
  return envelope;
}

Batch sample_batch() {
  Batch batch;
  batch.samples.push_back({"disk.used_pct", 97.5, 1000, {{"mount", "/var"}}});
  Signal signal = medic::test::disk_full_signal();
  batch.signals.push_back(signal);
  Signal cleared = signal;
  cleared.state = SignalState::cleared;
  cleared.labels.clear();
  cleared.message.clear();
  batch.signals.push_back(cleared);
  LogEvent line = medic::test::auth_failed_line();
  line.text = "FATAL:  password authentication failed for user \"app\"";
  line.labels = {{"user", "app"}};
  batch.logs.push_back(line);
  LogEvent gap;
  gap.kind = LogEventKind::gap;
  gap.source = "postgres";
  gap.path = line.path;
  gap.time_ms = 1003;
  gap.offset = 200'000;
  gap.text = "truncated";
  gap.gap_bytes = 4096;
  batch.logs.push_back(gap);
  return batch;
}

std::string encoded(const Batch& batch) {
  std::string frame;
  encode_batch(frame, batch_envelope(), batch);
  return frame;
}

std::string refusal(const std::string& frame) {
  auto decoded = decode(frame);
  REQUIRE_FALSE(decoded);
  return decoded.error().message();
}

// Replaces the first occurrence of `from` (same length as `to`) in the frame.
std::string patched(std::string frame, std::string_view from, std::string_view to) {
  REQUIRE(from.size() == to.size());
  const auto at = frame.find(from);
  REQUIRE(at != std::string::npos);
  frame.replace(at, from.size(), to);
  return frame;
}

} // namespace

TEST_CASE("signals and log events round-trip in a batch", "[protocol]") {
  const Batch batch = sample_batch();
  auto decoded = decode(encoded(batch));
  REQUIRE(decoded);
  CHECK(std::get<Batch>(decoded->body) == batch);
}

TEST_CASE("a batch encoded from views equals the one from owned values", "[protocol]") {
  const Batch batch = sample_batch();
  const LabelView mount[] = {{"mount", "/var"}};
  const LabelView user[] = {{"user", "app"}};
  const SampleView samples[] = {{"disk.used_pct", 97.5, 1000, mount}};
  const SignalView signals[] = {
      {"disk-almost-full", SignalState::firing, Severity::high, Category::resource,
       "9f2c41d0a1b2c3d4", 97.5, 1001, mount, "disk.used_pct 97.5 above 95 for 60s"},
      {"disk-almost-full",
       SignalState::cleared,
       Severity::high,
       Category::resource,
       "9f2c41d0a1b2c3d4",
       97.5,
       1001,
       {},
       {}}};
  const LogEventView logs[] = {{LogEventKind::line, "postgres", batch.logs[0].path, 1002, 123'456,
                                batch.logs[0].text, "db-auth-failed", 17, 0, user},
                               {LogEventKind::gap,
                                "postgres",
                                batch.logs[0].path,
                                1003,
                                200'000,
                                "truncated",
                                {},
                                std::nullopt,
                                4096,
                                {}}};
  std::string from_views;
  BatchView views;
  views.samples = samples;
  views.signals = signals;
  views.logs = logs;
  encode_batch(from_views, batch_envelope(), views);
  CHECK(from_views == encoded(batch));
}

TEST_CASE("a samples-only batch has no signals or logs keys", "[protocol]") {
  Batch batch;
  batch.samples.push_back({"cpu.usage_pct", 1, 2, {}});
  const std::string frame = encoded(batch);
  CHECK(frame.find("signals") == std::string::npos);
  CHECK(frame.find("logs") == std::string::npos);
}

TEST_CASE("bad signal and log fields are refused with their path", "[protocol]") {
  const std::string frame = encoded(sample_batch());
  CHECK(refusal(patched(frame, "\xa4high", "\xa4huge"))
            .find("signals: [0]: signal.severity: "
                  "unknown value 'huge'") != std::string::npos);
  CHECK(refusal(patched(frame, "\xa8resource", "\xa8resorce ")).find("signal.category") !=
        std::string::npos);
  CHECK(refusal(patched(frame,
                        "\xa6"
                        "firing",
                        "\xa6"
                        "fixing"))
            .find("signal.state") != std::string::npos);
  CHECK(refusal(patched(frame, "\xa4kind\xa4line", "\xa4kind\xa4lime"))
            .find("logs: [0]: log.kind: unknown value 'lime'") != std::string::npos);
  // A required key renamed away.
  CHECK(refusal(patched(frame, "\xab" "fingerprint", "\xab" "fingerprinx"))
            .find("signal.fingerprint: missing") != std::string::npos);
  CHECK(refusal(patched(frame, "\xa6offset", "\xa6offsex")).find("log.offset: missing") !=
        std::string::npos);
  // Control bytes in a rule name.
  CHECK(
      refusal(patched(frame, "disk-almost-full", "disk-almost\nfull")).find("control characters") !=
      std::string::npos);
}

TEST_CASE("signal and log arrays over their limits are refused before allocating", "[protocol]") {
  Batch batch;
  std::string frame;
  encode_batch(frame, batch_envelope(), batch);
  // Rewrite the body map to hold one more key, "signals", with an array claiming 65535 items.
  REQUIRE(static_cast<unsigned char>(frame[frame.size() - 10]) == 0x81);
  frame[frame.size() - 10] = '\x82';
  frame += std::string("\xa7signals\xdc\xff\xff", 11);
  CHECK(refusal(frame).find("signals") != std::string::npos);
}

TEST_CASE("category, severity and state words parse back", "[protocol]") {
  for (const auto category :
       {Category::authentication, Category::database, Category::api, Category::performance,
        Category::integration, Category::resource, Category::configuration, Category::network}) {
    CHECK(parse_category(to_string(category)) == category);
  }
  for (const auto severity :
       {Severity::critical, Severity::high, Severity::medium, Severity::low, Severity::info}) {
    CHECK(parse_severity(to_string(severity)) == severity);
  }
  CHECK(parse_signal_state("cleared") == SignalState::cleared);
  CHECK_FALSE(parse_category("disk"));
  CHECK_FALSE(parse_severity("HIGH"));
}
