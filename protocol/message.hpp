// SPDX-License-Identifier: Apache-2.0
// The wire contract's value types: the envelope every message carries and the message bodies.
// PROTOCOL.md is the normative description; these structs mirror it field for field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace medic::protocol {

inline constexpr std::uint32_t k_version = 1;

enum class MessageType : std::uint8_t {
  hello = 1,
  batch = 2,
  ack = 3,
  error = 7,
};

[[nodiscard]] std::string_view to_string(MessageType type) noexcept;

// Hard limits every decoder enforces before it allocates. See PROTOCOL.md, "Limits".
struct Limits {
  static constexpr std::size_t k_max_frame_bytes = 1 << 20;
  static constexpr std::size_t k_max_id_bytes = 64;
  static constexpr std::size_t k_max_name_bytes = 128;
  static constexpr std::size_t k_max_text_bytes = 1024;
  static constexpr std::size_t k_max_label_value_bytes = 256;
  static constexpr std::size_t k_max_body_keys = 64;
  static constexpr std::size_t k_max_labels = 32;
  static constexpr std::size_t k_max_samples = 10'000;
  static constexpr std::size_t k_max_skip_depth = 8;
};

struct Envelope {
  std::uint32_t version = k_version;
  MessageType type = MessageType::batch;
  std::string agent_id;
  std::uint64_t seq = 0;       // per-sender sequence number; batches start at 1
  std::int64_t sent_at_ms = 0; // sender's wall clock, Unix milliseconds
};

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
};

struct Sample {
  std::string name;
  double value = 0;
  std::int64_t time_ms = 0;
  std::vector<Label> labels;
  friend bool operator==(const Sample&, const Sample&) = default;
};

struct Hello {
  std::string host;
  std::string agent_version;
  std::vector<Label> labels;
  friend bool operator==(const Hello&, const Hello&) = default;
};

struct Batch {
  std::vector<Sample> samples;
  friend bool operator==(const Batch&, const Batch&) = default;
};

struct Ack {
  std::uint64_t acked_seq = 0; // the batch sequence number now stored
  friend bool operator==(const Ack&, const Ack&) = default;
};

struct ErrorReply {
  std::string code;    // machine-readable, e.g. "malformed", "unsupported-version"
  std::string message; // for people
  std::uint64_t ref_seq = 0;
  friend bool operator==(const ErrorReply&, const ErrorReply&) = default;
};

using Body = std::variant<Hello, Batch, Ack, ErrorReply>;

struct Message {
  Envelope envelope;
  Body body;
};

// Encoding side views: the agent encodes from these without building owned strings per sample.
struct LabelView {
  std::string_view name;
  std::string_view value;
};

struct SampleView {
  std::string_view name;
  double value = 0;
  std::int64_t time_ms = 0;
  std::span<const LabelView> labels;
};

} // namespace medic::protocol
