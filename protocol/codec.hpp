// SPDX-License-Identifier: Apache-2.0
// msgpack encoding and strict decoding of protocol messages. Decoding checks every length
// against the bytes that remain before it reserves anything, so a frame can never make the
// decoder allocate more than the frame itself holds, whatever a length prefix claims.
#pragma once

#include <span>
#include <string>

#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::protocol {

// Encoders append to `out` (callers clear and reuse it to keep its capacity).
void encode_hello(std::string& out, const Envelope& envelope, const Hello& hello);
void encode_batch(std::string& out, const Envelope& envelope, std::span<const SampleView> samples);
void encode_batch(std::string& out, const Envelope& envelope, const Batch& batch);
void encode_ack(std::string& out, const Envelope& envelope, const Ack& ack);
void encode_error(std::string& out, const Envelope& envelope, const ErrorReply& error);

// Rejects (ErrorCode::protocol, with the path of the offending field) anything PROTOCOL.md does
// not allow: oversized frames, trailing bytes, wrong version, unknown type, missing or wrongly
// typed fields, values over the limits.
[[nodiscard]] Result<Message> decode(std::span<const std::byte> frame);
[[nodiscard]] Result<Message> decode(std::string_view frame);

// Reads just the envelope (for replying with an ERROR that names the sender's seq). Never fails
// on the body.
[[nodiscard]] Result<Envelope> peek_envelope(std::span<const std::byte> frame);

} // namespace medic::protocol
