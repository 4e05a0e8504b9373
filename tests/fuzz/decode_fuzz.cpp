// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the wire decoder. Frames come straight from the network, so decode()
// and peek_envelope() must survive any bytes without crashing, reading out of bounds or
// allocating more than the frame holds (ASan and libFuzzer's -rss_limit_mb catch those).
// Beyond "does not crash" it checks properties a peer relies on:
//   - a refusal is ErrorCode::protocol with a message, as codec.hpp promises;
//   - decode() and peek_envelope() agree on the envelope;
//   - whatever decode() accepts, encode() turns into a frame that decodes to the same message
//     (the bytes may differ: a sender may pick any integer width, our encoder picks its own);
//   - encoding is canonical: encoding the re-decoded message gives the same bytes again.
// A broken property aborts, so libFuzzer keeps the input as a crash reproducer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "protocol/codec.hpp"

namespace {

namespace protocol = medic::protocol;

void check(bool holds, const char* property) {
  if (!holds) {
    std::fprintf(stderr, "decode_fuzz: property broken: %s\n", property);
    std::abort();
  }
}

// Envelope has no operator== (nothing else needs one), so compare it here field by field.
bool same_envelope(const protocol::Envelope& a, const protocol::Envelope& b) {
  return a.version == b.version && a.type == b.type && a.agent_id == b.agent_id && a.seq == b.seq &&
         a.sent_at_ms == b.sent_at_ms;
}

void check_refusal(const medic::Error& error, protocol::DecodeFailure failure, std::size_t size) {
  check(error.code() == medic::ErrorCode::protocol, "a refusal is ErrorCode::protocol");
  check(!error.message().empty(), "a refusal says why");
  check((failure == protocol::DecodeFailure::too_large) ==
            (size > protocol::Limits::k_max_frame_bytes),
        "too_large is reported exactly for frames over the limit");
}

void check_round_trip(const protocol::Message& message) {
  std::string encoded;
  protocol::encode(encoded, message);
  auto again = protocol::decode(encoded);
  check(again.has_value(), "the encoding of a decoded message decodes");
  check(same_envelope(again->envelope, message.envelope), "the envelope survives a round trip");
  check(again->body == message.body, "the body survives a round trip");

  std::string reencoded;
  protocol::encode(reencoded, *again);
  check(reencoded == encoded, "encoding the re-decoded message gives the same bytes");
}

} // namespace

// libFuzzer calls this by name.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // libFuzzer may pass a null pointer with size 0; a span of (nullptr, 0) is valid.
  const std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data), size);

  auto envelope = protocol::peek_envelope(frame);
  auto failure = protocol::DecodeFailure::malformed;
  auto message = protocol::decode(frame, &failure);

  if (!envelope) {
    check(!message.has_value(), "decode refuses a frame whose envelope peek refuses");
  }
  if (!message) {
    check_refusal(message.error(), failure, size);
    return 0;
  }
  check(envelope.has_value() && same_envelope(*envelope, message->envelope),
        "peek_envelope reads the envelope decode reads");
  check_round_trip(*message);
  return 0;
}
