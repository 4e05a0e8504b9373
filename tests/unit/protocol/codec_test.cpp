// SPDX-License-Identifier: Apache-2.0
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "protocol/codec.hpp"

using namespace medic::protocol;

namespace {

Envelope envelope_for(std::uint64_t seq) {
  Envelope envelope;
  envelope.agent_id = "web-1";
  envelope.seq = seq;
  envelope.sent_at_ms = 1'700'000'000'123;
  return envelope;
}

std::string encoded_batch(const Batch& batch, std::uint64_t seq = 7) {
  std::string frame;
  encode_batch(frame, envelope_for(seq), batch);
  return frame;
}

std::string decode_error(std::string_view frame) {
  auto decoded = decode(frame);
  REQUIRE_FALSE(decoded);
  CHECK(decoded.error().code() == medic::ErrorCode::protocol);
  return decoded.error().message();
}

} // namespace

TEST_CASE("a batch survives encode and decode unchanged") {
  Batch batch;
  batch.samples.push_back({"cpu.usage_pct", 12.5, 1'700'000'000'000, {}});
  batch.samples.push_back({"disk.used_pct", 81.25, 1'700'000'000'001, {{"mount", "/var"}}});
  batch.samples.push_back({"mem.total_bytes", 25'769'803'776.0, -5, {}});
  const auto frame = encoded_batch(batch);
  auto decoded = decode(frame);
  REQUIRE(decoded);
  CHECK(decoded->envelope.version == k_version);
  CHECK(decoded->envelope.type == MessageType::batch);
  CHECK(decoded->envelope.agent_id == "web-1");
  CHECK(decoded->envelope.seq == 7);
  CHECK(decoded->envelope.sent_at_ms == 1'700'000'000'123);
  CHECK(std::get<Batch>(decoded->body) == batch);
}

TEST_CASE("encoding from views gives the same bytes as from owned samples") {
  const LabelView labels[] = {{"mount", "/var"}};
  const SampleView views[] = {{"cpu.usage_pct", 1.5, 10, {}}, {"disk.used_pct", 2.5, 11, labels}};
  std::string from_views;
  encode_batch(from_views, envelope_for(3), views);
  Batch batch;
  batch.samples.push_back({"cpu.usage_pct", 1.5, 10, {}});
  batch.samples.push_back({"disk.used_pct", 2.5, 11, {{"mount", "/var"}}});
  CHECK(from_views == encoded_batch(batch, 3));
}

TEST_CASE("empty views (a null data pointer) encode as empty strings") {
  // A default string_view has a null data(); the encoder must not hand it to memcpy (the
  // sanitizer build checks), and the bytes must equal those of empty owned strings.
  const LabelView labels[] = {{"mount", std::string_view{}}};
  const SampleView views[] = {{std::string_view{}, 1.5, 10, labels}};
  std::string from_views;
  encode_batch(from_views, envelope_for(4), views);
  Batch batch;
  batch.samples.push_back({"", 1.5, 10, {{"mount", ""}}});
  CHECK(from_views == encoded_batch(batch, 4));
  // (The decoder refuses the empty name; the encoder writes what it is given.)
  CHECK(decode_error(from_views).find("name") != std::string::npos);
}

TEST_CASE("hello, ack and error round-trip") {
  std::string frame;
  encode_hello(frame, envelope_for(0), Hello{"web-1.example", "0.1.0", {{"role", "db"}}, {}});
  auto hello = decode(frame);
  REQUIRE(hello);
  CHECK(std::get<Hello>(hello->body) == Hello{"web-1.example", "0.1.0", {{"role", "db"}}, {}});

  frame.clear();
  encode_ack(frame, envelope_for(1), Ack{42});
  auto ack = decode(frame);
  REQUIRE(ack);
  CHECK(std::get<Ack>(ack->body).acked_seq == 42);

  frame.clear();
  encode_error(frame, envelope_for(2), ErrorReply{"hello-required", "send HELLO again", 9});
  auto error = decode(frame);
  REQUIRE(error);
  CHECK(std::get<ErrorReply>(error->body) == ErrorReply{"hello-required", "send HELLO again", 9});
}

TEST_CASE("unknown body keys are skipped for forward compatibility") {
  // [1, 2, "a", 1, 0, {"future": [1, {"x": nil}], "samples": []}]
  const std::string frame(
      "\x96\x01\x02\xa1"
      "a\x01\x00\x82\xa6"
      "future\x92\x01\x81\xa1x\xc0\xa7samples\x90",
      30);
  auto decoded = decode(frame);
  INFO((decoded ? std::string() : decoded.error().message()));
  REQUIRE(decoded);
  CHECK(std::get<Batch>(decoded->body).samples.empty());
}

TEST_CASE("malformed frames are rejected with the reason and the field") {
  CHECK(decode_error("").find("envelope: expected array, got end of frame") != std::string::npos);
  CHECK(decode_error("\xc1").find("invalid byte") != std::string::npos);
  CHECK(decode_error(std::string("\x96\x09\x02\xa1"
                                 "a\x01\x00\x80",
                                 8))
            .find("unsupported protocol version 9") != std::string::npos);
  CHECK(decode_error(std::string("\x96\x01\x63\xa1"
                                 "a\x01\x00\x80",
                                 8))
            .find("unknown message type 99") != std::string::npos);
  CHECK(decode_error(std::string("\x96\x01\x02\xa0\x01\x00\x80", 7))
            .find("envelope.agent_id: must not be empty") != std::string::npos);
  CHECK(decode_error(std::string("\x96\x01\x02\xa1"
                                 "a\x01\x00\x80",
                                 8))
            .find("BATCH.samples: missing") != std::string::npos);
  CHECK(decode_error(std::string("\x95\x01\x02\xa1"
                                 "a\x01\x00",
                                 7))
            .find("expected 6 items, got 5") != std::string::npos);
  CHECK(decode_error(std::string("\x96\x01\x02\xa1"
                                 "a\xff\x00\x80",
                                 8))
            .find("envelope.seq: expected unsigned int, got -1") != std::string::npos);

  // A string where a number belongs, with the sample's index in the path.
  std::string wrong_type(
      "\x96\x01\x02\xa1"
      "a\x01\x00\x81\xa7samples\x91\x93\xa1n\xa1x\x00",
      23);
  CHECK(decode_error(wrong_type).find("BATCH.samples: [0]: value: expected number, got str") !=
        std::string::npos);

  // Trailing bytes after a valid message.
  Batch empty;
  CHECK(decode_error(encoded_batch(empty) + "x").find("1 trailing bytes") != std::string::npos);

  // Non-finite values are not numbers medic stores.
  Batch nan;
  nan.samples.push_back({"x", std::numeric_limits<double>::quiet_NaN(), 0, {}});
  CHECK(decode_error(encoded_batch(nan)).find("must be a finite number") != std::string::npos);

  // Control characters in names would corrupt logs and tables.
  Batch control;
  control.samples.push_back({"bad\nname", 1.0, 0, {}});
  CHECK(decode_error(encoded_batch(control)).find("control characters") != std::string::npos);
}

TEST_CASE("length prefixes that lie never make the decoder allocate or read past the end") {
  // An array header claiming 4 G items, inside a 5-byte frame.
  CHECK(decode_error(std::string("\xdd\xff\xff\xff\xff", 5)).find("exceeds the limit") !=
        std::string::npos);
  // A samples array claiming 10,000 items with no bytes behind it.
  std::string lying(
      "\x96\x01\x02\xa1"
      "a\x01\x00\x81\xa7samples\xdc\x27\x10",
      19);
  CHECK(decode_error(lying).find("claims 10000 items but only 0 bytes remain") !=
        std::string::npos);
  // A string claiming 4 GB.
  CHECK(
      decode_error(std::string("\x96\x01\x02\xdb\xff\xff\xff\xff", 8)).find("exceeds the limit") !=
      std::string::npos);
  // A string that runs past the end of the frame.
  CHECK(decode_error(std::string("\x96\x01\x02\xb4"
                                 "ab\x01\x00\x80",
                                 9))
            .find("runs past the end") != std::string::npos);
  // Deeply nested unknown values are refused, not recursed without bound.
  std::string deep(
      "\x96\x01\x02\xa1"
      "a\x01\x00\x82\xa1z",
      10);
  deep.append(50, '\x91');
  deep.append(1, '\xc0');
  deep.append("\xa7samples\x90");
  CHECK(decode_error(deep).find("nested too deeply") != std::string::npos);
}

TEST_CASE("a frame over the size limit is refused before decoding") {
  const std::string huge(Limits::k_max_frame_bytes + 1, '\0');
  CHECK(decode_error(huge).find("exceeds the limit of 1048576") != std::string::npos);
}

TEST_CASE("every truncation of a valid frame is rejected cleanly") {
  Batch batch;
  for (int i = 0; i < 20; ++i) {
    batch.samples.push_back({"metric." + std::to_string(i), i * 1.5, 1000 + i, {{"k", "v"}}});
  }
  const auto frame = encoded_batch(batch);
  for (std::size_t size = 0; size < frame.size(); ++size) {
    auto decoded = decode(std::string_view(frame).substr(0, size));
    CHECK_FALSE(decoded);
  }
  CHECK(decode(frame));
}

TEST_CASE("peek_envelope reads the envelope of a message whose body is broken") {
  std::string frame(
      "\x96\x01\x02\xa1"
      "a\x05\x00\x80",
      8);
  auto envelope = peek_envelope(std::as_bytes(std::span(frame.data(), frame.size())));
  REQUIRE(envelope);
  CHECK(envelope->seq == 5);
  CHECK_FALSE(decode(frame));
}

TEST_CASE("heartbeat, command, result and batch drop counts round-trip") {
  std::string frame;
  encode_heartbeat(frame, envelope_for(0), Heartbeat{12, 34'567});
  auto heartbeat = decode(frame);
  REQUIRE(heartbeat);
  CHECK(std::get<Heartbeat>(heartbeat->body) == Heartbeat{12, 34'567});

  const Command command{"cmd-1f3a", 1'700'000'060'000, "restart-service", {{"unit", "nginx"}}};
  frame.clear();
  encode_command(frame, envelope_for(3), command);
  auto decoded_command = decode(frame);
  REQUIRE(decoded_command);
  CHECK(decoded_command->envelope.type == MessageType::command);
  CHECK(std::get<Command>(decoded_command->body) == command);

  CommandResult result;
  result.command_id = "cmd-1f3a";
  result.status = ResultStatus::timed_out;
  result.reason = "killed after 30s";
  result.started_ms = 1'700'000'000'000;
  result.finished_ms = 1'700'000'030'000;
  result.output = "stopping nginx...";
  frame.clear();
  encode_result(frame, envelope_for(4), result);
  auto decoded_result = decode(frame);
  REQUIRE(decoded_result);
  CHECK(std::get<CommandResult>(decoded_result->body) == result);

  Batch batch;
  batch.samples.push_back({"cpu.usage_pct", 1.0, 5, {}});
  batch.dropped = DropCounts{3, 150, 9000};
  auto decoded_batch = decode(encoded_batch(batch));
  REQUIRE(decoded_batch);
  CHECK(std::get<Batch>(decoded_batch->body) == batch);

  // encode(Message) picks the encoder by the body's type.
  std::string generic;
  encode(generic, Message{envelope_for(4), result});
  CHECK(generic == frame);
}

TEST_CASE("decode says which kind of refusal it was") {
  DecodeFailure failure = DecodeFailure::malformed;
  CHECK_FALSE(decode(std::string("\x96\x09\x02\xa1"
                                 "a\x01\x00\x80",
                                 8),
                     &failure));
  CHECK(failure == DecodeFailure::unsupported_version);
  CHECK(error_code(failure) == "unsupported-version");
  CHECK_FALSE(decode(std::string("\x96\x01\x09\xa1"
                                 "a\x01\x00\x80",
                                 8),
                     &failure));
  CHECK(failure == DecodeFailure::unknown_type);
  CHECK_FALSE(decode(std::string(Limits::k_max_frame_bytes + 1, '\x90'), &failure));
  CHECK(failure == DecodeFailure::too_large);
  CHECK_FALSE(decode(std::string("\x96\x01\x02\xa1"
                                 "a\x01\x00\x80",
                                 8),
                     &failure));
  CHECK(failure == DecodeFailure::malformed);
  // A version that only matches after truncation to 32 bits is still refused.
  const std::string wide(
      "\x96\xcf\x00\x00\x00\x01\x00\x00\x00\x01\x02\xa1"
      "a\x01\x00\x80",
      16);
  CHECK_FALSE(decode(wide, &failure));
  // A RESULT with a status the protocol does not define.
  const std::string status(
      "\x96\x01\x06\xa1"
      "a\x01\x00\x82\xa2id\xa1x\xa6status\xa4nope",
      25);
  auto bad_status = decode(status);
  REQUIRE_FALSE(bad_status);
  CHECK(bad_status.error().message().find("unknown status 'nope'") != std::string::npos);
}

TEST_CASE("HELLO carries the agent's action catalog with parameter schemas") {
  Hello hello{"web-1", "0.1.0", {}, {}};
  ParamSchema unit{"unit", "string", true, {}, "^[a-z0-9@._-]+\\.service$", {}, {}};
  ParamSchema sig{"signal", "enum", false, {"TERM", "KILL", "HUP"}, "", {}, {}};
  ParamSchema age{"older_than", "duration", true, {}, "", 60'000, 86'400'000};
  hello.actions.push_back({"restart-service", "medium", {unit}});
  hello.actions.push_back({"kill-process", "high", {sig, age}});
  hello.actions.push_back({"noop", "", {}});
  std::string frame;
  encode_hello(frame, envelope_for(0), hello);
  auto decoded = decode(frame);
  INFO((decoded ? std::string() : decoded.error().message()));
  REQUIRE(decoded);
  CHECK(std::get<Hello>(decoded->body) == hello);

  // A parameter without its type is refused, with the path to it.
  Hello broken = hello;
  broken.actions[0].params[0].type = "";
  frame.clear();
  encode_hello(frame, envelope_for(0), broken);
  auto refused = decode(frame);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("HELLO.actions: [0]: action.params: [0]: param.type") !=
        std::string::npos);
}
