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

// Encoders append to `out` (callers clear and reuse it to keep its capacity). The envelope's
// type is set by the encoder.
void encode_hello(std::string& out, const Envelope& envelope, const Hello& hello);
void encode_batch(std::string& out, const Envelope& envelope, std::span<const SampleView> samples,
                  const DropCounts& dropped = {});
void encode_batch(std::string& out, const Envelope& envelope, const BatchView& batch);
void encode_batch(std::string& out, const Envelope& envelope, const Batch& batch);
void encode_ack(std::string& out, const Envelope& envelope, const Ack& ack);
void encode_heartbeat(std::string& out, const Envelope& envelope, const Heartbeat& heartbeat);
void encode_command(std::string& out, const Envelope& envelope, const Command& command);
void encode_result(std::string& out, const Envelope& envelope, const CommandResult& result);
void encode_error(std::string& out, const Envelope& envelope, const ErrorReply& error);
// Every key is written (reason "" and until_ms 0 included), so encoding is canonical.
void encode_policy(std::string& out, const Envelope& envelope, const Policy& policy);
// Any message, by the type of its body.
void encode(std::string& out, const Message& message);

// Why a frame was refused, so a peer can answer with the right ERROR code.
enum class DecodeFailure : std::uint8_t {
  malformed,           // not msgpack, wrong shape, missing or wrongly typed field, over a limit
  too_large,           // the frame exceeds Limits::k_max_frame_bytes
  unsupported_version, // the envelope is fine but speaks another protocol version
  unknown_type,        // the envelope names a message type this version does not have
};

[[nodiscard]] std::string_view error_code(DecodeFailure failure) noexcept;

// Rejects (ErrorCode::protocol, with the path of the offending field) anything PROTOCOL.md does
// not allow: oversized frames, trailing bytes, wrong version, unknown type, missing or wrongly
// typed fields, values over the limits. `failure`, when given, says which kind of refusal.
[[nodiscard]] Result<Message> decode(std::span<const std::byte> frame,
                                     DecodeFailure* failure = nullptr);
[[nodiscard]] Result<Message> decode(std::string_view frame, DecodeFailure* failure = nullptr);
// The same checks, into a Message the caller keeps and reuses: a BATCH is read into the batch
// already there, so its samples vector and the names' buffers are reused and a steady stream of
// similar batches decodes without allocating. On success `message` equals what decode() returns
// for the same frame, whatever it held before; on failure its content is unspecified (still a
// valid object, fit for the next decode_into).
[[nodiscard]] Result<void> decode_into(Message& message, std::span<const std::byte> frame,
                                       DecodeFailure* failure = nullptr);
[[nodiscard]] Result<void> decode_into(Message& message, std::string_view frame,
                                       DecodeFailure* failure = nullptr);

// Reads just the envelope (for replying with an ERROR that names the sender's seq).
[[nodiscard]] Result<Envelope> peek_envelope(std::span<const std::byte> frame);

} // namespace medic::protocol
