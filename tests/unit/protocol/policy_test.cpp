// SPDX-License-Identifier: Apache-2.0
// POLICY on the wire: the freeze and maintenance windows the coordinator pushes to an agent
// (round trips, and every refusal with the path of the offending field).
#include <cstdint>
#include <string>

#include <catch2/catch.hpp>

#include "protocol/codec.hpp"

using namespace medic::protocol;

namespace {

Envelope coordinator_envelope() {
  Envelope envelope;
  envelope.agent_id = "web-1";
  envelope.seq = 12;
  envelope.sent_at_ms = 1'700'000'000'000;
  return envelope;
}

Policy sample_policy() {
  Policy policy;
  policy.version = 1'700'000'000'555;
  policy.freeze = Freeze{true, 1'700'000'900'000, "change freeze for the release"};
  policy.windows.push_back(
      MaintenanceWindow{"db-upgrade", 1'700'000'000'000, 1'700'000'360'000, {"postgres"}, "pg 16"});
  policy.windows.push_back(MaintenanceWindow{"rack-move", 0, 1, {}, ""});
  return policy;
}

std::string encoded(const Policy& policy) {
  std::string frame;
  encode_policy(frame, coordinator_envelope(), policy);
  return frame;
}

// A few msgpack pieces, written by hand so that the tests can send what our encoder never would.
std::string str(std::string_view text) {
  REQUIRE(text.size() < 256);
  std::string out = text.size() < 32 ? std::string(1, static_cast<char>(0xa0 | text.size()))
                                     : std::string{'\xd9', static_cast<char>(text.size())};
  return out + std::string(text);
}
std::string map(int pairs) {
  return std::string(1, static_cast<char>(0x80 | pairs));
}
std::string array(int items) {
  return std::string(1, static_cast<char>(0x90 | items));
}
std::string u64(std::uint64_t value) {
  std::string out(1, '\xcf');
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((value >> shift) & 0xff);
  }
  return out;
}
const std::string k_false(1, '\xc2');
const std::string k_minus_one(1, '\xff');

// A POLICY frame around a hand-written body.
std::string frame_with(const std::string& body) {
  return array(6) + u64(1) + u64(8) + str("web-1") + u64(0) + u64(0) + body;
}

std::string freeze_off() {
  return map(1) + str("on") + k_false;
}

// A POLICY whose only window is the given map.
std::string frame_with_window(const std::string& window) {
  return frame_with(map(3) + str("version") + u64(5) + str("freeze") + freeze_off() +
                    str("windows") + array(1) + window);
}

std::string window(const std::string& extra_key, int extra_pairs = 0) {
  return map(3 + extra_pairs) + str("id") + str("w1") + str("start_ms") + u64(10) + str("end_ms") +
         u64(20) + extra_key;
}

std::string refusal(const std::string& frame) {
  DecodeFailure failure = DecodeFailure::unknown_type;
  auto decoded = decode(frame, &failure);
  REQUIRE_FALSE(decoded);
  CHECK(decoded.error().code() == medic::ErrorCode::protocol);
  CHECK(failure == DecodeFailure::malformed);
  return decoded.error().message();
}

} // namespace

TEST_CASE("a POLICY survives encode and decode unchanged", "[protocol][policy]") {
  const Policy policy = sample_policy();
  const std::string frame = encoded(policy);
  auto decoded = decode(frame);
  REQUIRE(decoded);
  CHECK(decoded->envelope.type == MessageType::policy);
  CHECK(decoded->envelope.agent_id == "web-1");
  CHECK(decoded->envelope.seq == 12);
  CHECK(std::get<Policy>(decoded->body) == policy);
  CHECK(to_string(MessageType::policy) == "POLICY");

  // encode() by body type gives the same bytes, and re-encoding is canonical.
  std::string again;
  encode(again, *decoded);
  CHECK(again == frame);

  // The smallest policy: nothing frozen, no windows.
  Policy empty;
  empty.version = 1;
  auto small = decode(encoded(empty));
  REQUIRE(small);
  CHECK(std::get<Policy>(small->body) == empty);
}

TEST_CASE("a POLICY from a hand-written peer decodes with optional keys absent",
          "[protocol][policy]") {
  const auto frame = frame_with(map(3) + str("windows") + array(1) + window("") + str("freeze") +
                                freeze_off() + str("version") + u64(7));
  auto decoded = decode(frame);
  REQUIRE(decoded);
  const auto& policy = std::get<Policy>(decoded->body);
  CHECK(policy.version == 7);
  CHECK(policy == Policy{7, Freeze{}, {MaintenanceWindow{"w1", 10, 20, {}, ""}}});
}

TEST_CASE("POLICY bodies without their required keys are refused", "[protocol][policy]") {
  const std::string version = str("version") + u64(5);
  const std::string freeze = str("freeze") + freeze_off();
  const std::string windows = str("windows") + array(0);
  CHECK(refusal(frame_with(map(2) + freeze + windows)) == "POLICY.version: missing");
  CHECK(refusal(frame_with(map(2) + version + windows)) == "POLICY.freeze: missing");
  CHECK(refusal(frame_with(map(2) + version + freeze)) == "POLICY.windows: missing");
  CHECK(refusal(frame_with(map(3) + str("version") + u64(0) + freeze + windows)) ==
        "POLICY.version: must be above 0");
  CHECK(refusal(frame_with(map(3) + version + str("freeze") + map(0) + windows)) ==
        "POLICY.freeze: freeze.on: missing");
  CHECK(refusal(frame_with_window(map(2) + str("id") + str("w1") + str("start_ms") + u64(1))) ==
        "POLICY.windows: [0]: window.end_ms: missing");
  CHECK(refusal(frame_with(map(3) + version + freeze + str("windows") + map(0))) ==
        "POLICY.windows: expected array, got map");
}

TEST_CASE("POLICY freeze fields of the wrong type or over their limits are refused",
          "[protocol][policy]") {
  auto with_freeze = [](const std::string& freeze) {
    return frame_with(map(3) + str("version") + u64(5) + str("freeze") + freeze + str("windows") +
                      array(0));
  };
  CHECK(refusal(with_freeze(map(1) + str("on") + str("yes"))) ==
        "POLICY.freeze: freeze.on: expected bool, got str");
  CHECK(refusal(with_freeze(map(2) + str("on") + k_false + str("until_ms") + k_minus_one)) ==
        "POLICY.freeze: freeze.until_ms: expected unsigned int, got -1");
  CHECK(refusal(with_freeze(map(2) + str("on") + k_false + str("until_ms") + u64(~0ULL)))
            .find("freeze.until_ms: 18446744073709551615 is out of range") != std::string::npos);
  CHECK(refusal(with_freeze(map(2) + str("on") + k_false + str("reason") +
                            std::string{'\xda', '\x01', '\x01'} + std::string(257, 'r'))) ==
        "POLICY.freeze: freeze.reason: string of 257 bytes exceeds the limit of 256");
  CHECK(refusal(frame_with(map(3) + str("version") + str("5") + str("freeze") + freeze_off() +
                           str("windows") + array(0))) ==
        "POLICY.version: expected unsigned int, got str");
}

TEST_CASE("POLICY window fields that break the rules are refused with their path",
          "[protocol][policy]") {
  const std::string w = "POLICY.windows: [0]: window.";
  CHECK(refusal(frame_with_window(map(3) + str("id") + str("") + str("start_ms") + u64(1) +
                                  str("end_ms") + u64(2))) == w + "id: must not be empty");
  CHECK(refusal(frame_with_window(map(3) + str("id") + str(std::string(65, 'i')) + str("start_ms") +
                                  u64(1) + str("end_ms") + u64(2))) ==
        w + "id: string of 65 bytes exceeds the limit of 64");
  CHECK(refusal(frame_with_window(map(3) + str("id") + str("a\nb") + str("start_ms") + u64(1) +
                                  str("end_ms") + u64(2))) ==
        w + "id: contains control characters");
  CHECK(refusal(frame_with_window(map(3) + str("id") + str("w") + str("start_ms") + u64(20) +
                                  str("end_ms") + u64(20))) ==
        w + "end_ms: 20 is not after start_ms 20");
  CHECK(refusal(frame_with_window(map(3) + str("id") + str("w") + str("start_ms") + u64(20) +
                                  str("end_ms") + u64(5))) ==
        w + "end_ms: 5 is not after start_ms 20");
  CHECK(refusal(frame_with_window(map(3) + str("id") + str("w") + str("start_ms") + k_minus_one +
                                  str("end_ms") + u64(5))) ==
        w + "start_ms: expected unsigned int, got -1");
  CHECK(refusal(frame_with_window(window(str("services") + array(1) + str(""), 1))) ==
        w + "services: [0]: must not be empty");
  CHECK(refusal(frame_with_window(window(str("services") + array(1) + u64(3), 1))) ==
        w + "services: [0]: expected str, got int");
  CHECK(refusal(
            frame_with_window(window(str("services") + array(1) + str(std::string(65, 's')), 1))) ==
        w + "services: [0]: string of 65 bytes exceeds the limit of 64");
  CHECK(refusal(frame_with_window(window(
            str("reason") + std::string{'\xda', '\x01', '\x01'} + std::string(257, 'r'), 1))) ==
        w + "reason: string of 257 bytes exceeds the limit of 256");
}

TEST_CASE("POLICY arrays over their limits are refused", "[protocol][policy]") {
  Policy too_many_windows;
  too_many_windows.version = 9;
  too_many_windows.windows.assign(Limits::k_max_windows + 1, MaintenanceWindow{"w", 1, 2, {}, ""});
  CHECK(refusal(encoded(too_many_windows)) ==
        "POLICY.windows: array of 257 items exceeds the limit of 256");
  Policy exactly;
  exactly.version = 9;
  exactly.windows.assign(Limits::k_max_windows, MaintenanceWindow{"w", 1, 2, {}, ""});
  CHECK(decode(encoded(exactly)));

  Policy too_many_services;
  too_many_services.version = 9;
  too_many_services.windows.push_back(MaintenanceWindow{"w", 1, 2, {}, ""});
  too_many_services.windows[0].services.assign(Limits::k_max_window_services + 1, "svc");
  CHECK(refusal(encoded(too_many_services)) ==
        "POLICY.windows: [0]: window.services: array of 33 items exceeds the limit of 32");
}

TEST_CASE("every truncation of a POLICY frame is refused cleanly", "[protocol][policy]") {
  const std::string frame = encoded(sample_policy());
  for (std::size_t size = 0; size < frame.size(); ++size) {
    CHECK_FALSE(decode(std::string_view(frame).substr(0, size)));
  }
}
