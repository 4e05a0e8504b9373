// SPDX-License-Identifier: Apache-2.0
#include "protocol/codec.hpp"

#include <algorithm>
#include <cmath>

#include <msgpack.hpp>

#include "protocol/msgpack_reader.hpp"

namespace medic::protocol {

namespace {

using detail::MsgpackReader;

constexpr std::uint32_t k_envelope_items = 6;

// msgpack::packer writes through any type with write(const char*, size_t).
struct StringSink {
  std::string& out;
  void write(const char* data, std::size_t size) { out.append(data, size); }
};
using Packer = msgpack::packer<StringSink>;

void pack_str(Packer& pk, std::string_view text) {
  pk.pack_str(static_cast<std::uint32_t>(text.size()));
  pk.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
}

void pack_envelope(Packer& pk, const Envelope& envelope, MessageType type) {
  pk.pack_array(k_envelope_items);
  pk.pack_uint32(envelope.version);
  pk.pack_uint8(static_cast<std::uint8_t>(type));
  pack_str(pk, envelope.agent_id);
  pk.pack_uint64(envelope.seq);
  pk.pack_int64(envelope.sent_at_ms);
}

template <class LabelRange>
void pack_labels(Packer& pk, const LabelRange& labels) {
  pk.pack_map(static_cast<std::uint32_t>(std::size(labels)));
  for (const auto& label : labels) {
    pack_str(pk, label.name);
    pack_str(pk, label.value);
  }
}

template <class SampleLike>
void pack_sample(Packer& pk, const SampleLike& sample) {
  const bool has_labels = !std::empty(sample.labels);
  pk.pack_array(has_labels ? 4 : 3);
  pack_str(pk, sample.name);
  pk.pack_double(sample.value);
  pk.pack_int64(sample.time_ms);
  if (has_labels) {
    pack_labels(pk, sample.labels);
  }
}

template <class SampleRange>
void pack_batch(std::string& out, const Envelope& envelope, const SampleRange& samples) {
  StringSink sink{out};
  Packer pk(sink);
  pack_envelope(pk, envelope, MessageType::batch);
  pk.pack_map(1);
  pack_str(pk, "samples");
  pk.pack_array(static_cast<std::uint32_t>(std::size(samples)));
  for (const auto& sample : samples) {
    pack_sample(pk, sample);
  }
}

// ---- decoding ----

Error at(std::string_view path, Error error) {
  return std::move(error).context(path);
}

// Names, ids and label parts: no control bytes, so they are safe in logs and tables.
Result<std::string_view> read_name(MsgpackReader& reader, std::size_t max_bytes) {
  auto text = reader.read_string(max_bytes);
  if (!text) {
    return text;
  }
  if (text->empty()) {
    return fail(ErrorCode::protocol, "must not be empty");
  }
  if (std::any_of(text->begin(), text->end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return fail(ErrorCode::protocol, "contains control characters");
  }
  return text;
}

Result<void> read_labels(MsgpackReader& reader, std::vector<Label>& labels) {
  auto count = reader.read_map(Limits::k_max_labels);
  if (!count) {
    return fail(std::move(count).error());
  }
  labels.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto name = read_name(reader, Limits::k_max_name_bytes);
    if (!name) {
      return fail(at("label name", std::move(name).error()));
    }
    auto value = reader.read_string(Limits::k_max_label_value_bytes);
    if (!value) {
      return fail(at("label '" + std::string(*name) + "'", std::move(value).error()));
    }
    labels.push_back({std::string(*name), std::string(*value)});
  }
  return {};
}

// Walks a body map: `on_key` returns true for a key it consumed, false to have it skipped
// (unknown keys are ignored for forward compatibility). Duplicate keys are rejected.
template <class OnKey>
Result<void> read_body(MsgpackReader& reader, std::string_view type, OnKey&& on_key) {
  auto pairs = reader.read_map(Limits::k_max_body_keys);
  if (!pairs) {
    return fail(at(std::string(type) + " body", std::move(pairs).error()));
  }
  std::vector<std::string_view> seen;
  for (std::uint32_t i = 0; i < *pairs; ++i) {
    auto key = reader.read_string(Limits::k_max_name_bytes);
    if (!key) {
      return fail(at(std::string(type) + " body key", std::move(key).error()));
    }
    if (std::find(seen.begin(), seen.end(), *key) != seen.end()) {
      return fail(ErrorCode::protocol,
                  std::string(type) + "." + std::string(*key) + ": duplicate key");
    }
    seen.push_back(*key);
    auto consumed = on_key(*key);
    if (!consumed) {
      return fail(at(std::string(type) + "." + std::string(*key), std::move(consumed).error()));
    }
    if (!*consumed) {
      if (auto skipped = reader.skip(Limits::k_max_skip_depth); !skipped) {
        return fail(at(std::string(type) + "." + std::string(*key), std::move(skipped).error()));
      }
    }
  }
  return {};
}

Result<void> require(bool present, std::string_view type, std::string_view key) {
  if (!present) {
    return fail(ErrorCode::protocol, std::string(type) + "." + std::string(key) + ": missing");
  }
  return {};
}

Result<Sample> read_sample(MsgpackReader& reader) {
  auto items = reader.read_array(4);
  if (!items) {
    return fail(std::move(items).error());
  }
  if (*items < 3) {
    return fail(ErrorCode::protocol, "expected [name, value, time_ms, labels?], got " +
                                         std::to_string(*items) + " items");
  }
  Sample sample;
  auto name = read_name(reader, Limits::k_max_name_bytes);
  if (!name) {
    return fail(at("name", std::move(name).error()));
  }
  sample.name = *name;
  auto value = reader.read_number();
  if (!value) {
    return fail(at("value", std::move(value).error()));
  }
  if (!std::isfinite(*value)) {
    return fail(ErrorCode::protocol, "value: must be a finite number");
  }
  sample.value = *value;
  auto time = reader.read_int();
  if (!time) {
    return fail(at("time_ms", std::move(time).error()));
  }
  sample.time_ms = *time;
  if (*items == 4) {
    if (auto labels = read_labels(reader, sample.labels); !labels) {
      return fail(at("labels", std::move(labels).error()));
    }
  }
  return sample;
}

Result<Batch> read_batch(MsgpackReader& reader) {
  Batch batch;
  bool has_samples = false;
  auto body = read_body(reader, "BATCH", [&](std::string_view key) -> Result<bool> {
    if (key != "samples") {
      return false;
    }
    has_samples = true;
    auto count = reader.read_array(Limits::k_max_samples);
    if (!count) {
      return fail(std::move(count).error());
    }
    batch.samples.reserve(*count);
    for (std::uint32_t i = 0; i < *count; ++i) {
      auto sample = read_sample(reader);
      if (!sample) {
        return fail(at("[" + std::to_string(i) + "]", std::move(sample).error()));
      }
      batch.samples.push_back(std::move(*sample));
    }
    return true;
  });
  if (!body) {
    return fail(std::move(body).error());
  }
  if (auto ok = require(has_samples, "BATCH", "samples"); !ok) {
    return fail(std::move(ok).error());
  }
  return batch;
}

Result<Hello> read_hello(MsgpackReader& reader) {
  Hello hello;
  bool has_host = false;
  bool has_version = false;
  auto body = read_body(reader, "HELLO", [&](std::string_view key) -> Result<bool> {
    if (key == "host") {
      auto host = read_name(reader, Limits::k_max_name_bytes);
      if (!host) {
        return fail(std::move(host).error());
      }
      hello.host = *host;
      has_host = true;
      return true;
    }
    if (key == "version") {
      auto version = read_name(reader, Limits::k_max_name_bytes);
      if (!version) {
        return fail(std::move(version).error());
      }
      hello.agent_version = *version;
      has_version = true;
      return true;
    }
    if (key == "labels") {
      return read_labels(reader, hello.labels).map([] { return true; });
    }
    return false;
  });
  if (!body) {
    return fail(std::move(body).error());
  }
  if (auto ok = require(has_host, "HELLO", "host"); !ok) {
    return fail(std::move(ok).error());
  }
  if (auto ok = require(has_version, "HELLO", "version"); !ok) {
    return fail(std::move(ok).error());
  }
  return hello;
}

Result<Ack> read_ack(MsgpackReader& reader) {
  Ack ack;
  bool has_seq = false;
  auto body = read_body(reader, "ACK", [&](std::string_view key) -> Result<bool> {
    if (key != "seq") {
      return false;
    }
    auto seq = reader.read_uint();
    if (!seq) {
      return fail(std::move(seq).error());
    }
    ack.acked_seq = *seq;
    has_seq = true;
    return true;
  });
  if (!body) {
    return fail(std::move(body).error());
  }
  if (auto ok = require(has_seq, "ACK", "seq"); !ok) {
    return fail(std::move(ok).error());
  }
  return ack;
}

Result<ErrorReply> read_error(MsgpackReader& reader) {
  ErrorReply error;
  bool has_code = false;
  auto body = read_body(reader, "ERROR", [&](std::string_view key) -> Result<bool> {
    if (key == "code" || key == "message") {
      auto text = key == "code" ? read_name(reader, Limits::k_max_name_bytes)
                                : reader.read_string(Limits::k_max_text_bytes);
      if (!text) {
        return fail(std::move(text).error());
      }
      (key == "code" ? error.code : error.message) = *text;
      has_code = has_code || key == "code";
      return true;
    }
    if (key == "ref_seq") {
      auto seq = reader.read_uint();
      if (!seq) {
        return fail(std::move(seq).error());
      }
      error.ref_seq = *seq;
      return true;
    }
    return false;
  });
  if (!body) {
    return fail(std::move(body).error());
  }
  if (auto ok = require(has_code, "ERROR", "code"); !ok) {
    return fail(std::move(ok).error());
  }
  return error;
}

Result<Envelope> read_envelope(MsgpackReader& reader, std::size_t frame_size) {
  if (frame_size > Limits::k_max_frame_bytes) {
    return fail(ErrorCode::protocol, "frame of " + std::to_string(frame_size) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(Limits::k_max_frame_bytes));
  }
  auto items = reader.read_array(k_envelope_items);
  if (!items) {
    return fail(at("envelope", std::move(items).error()));
  }
  if (*items != k_envelope_items) {
    return fail(ErrorCode::protocol, "envelope: expected 6 items, got " + std::to_string(*items));
  }
  Envelope envelope;
  auto version = reader.read_uint();
  if (!version) {
    return fail(at("envelope.version", std::move(version).error()));
  }
  if (*version != k_version) {
    return fail(ErrorCode::protocol, "envelope.version: unsupported protocol version " +
                                         std::to_string(*version) + " (this side speaks " +
                                         std::to_string(k_version) + ")");
  }
  envelope.version = static_cast<std::uint32_t>(*version);
  auto type = reader.read_uint();
  if (!type) {
    return fail(at("envelope.type", std::move(type).error()));
  }
  switch (*type) {
  case 1:
  case 2:
  case 3:
  case 7: envelope.type = static_cast<MessageType>(*type); break;
  default:
    return fail(ErrorCode::protocol,
                "envelope.type: unknown message type " + std::to_string(*type));
  }
  auto agent_id = read_name(reader, Limits::k_max_id_bytes);
  if (!agent_id) {
    return fail(at("envelope.agent_id", std::move(agent_id).error()));
  }
  envelope.agent_id = *agent_id;
  auto seq = reader.read_uint();
  if (!seq) {
    return fail(at("envelope.seq", std::move(seq).error()));
  }
  envelope.seq = *seq;
  auto sent_at = reader.read_int();
  if (!sent_at) {
    return fail(at("envelope.sent_at_ms", std::move(sent_at).error()));
  }
  envelope.sent_at_ms = *sent_at;
  return envelope;
}

Result<Body> read_message_body(MsgpackReader& reader, MessageType type) {
  auto wrap = [](auto result) -> Result<Body> {
    if (!result) {
      return fail(std::move(result).error());
    }
    return Body(std::move(*result));
  };
  switch (type) {
  case MessageType::hello: return wrap(read_hello(reader));
  case MessageType::batch: return wrap(read_batch(reader));
  case MessageType::ack: return wrap(read_ack(reader));
  case MessageType::error: return wrap(read_error(reader));
  }
  return fail(ErrorCode::protocol, "unknown message type");
}

} // namespace

void encode_hello(std::string& out, const Envelope& envelope, const Hello& hello) {
  StringSink sink{out};
  Packer pk(sink);
  pack_envelope(pk, envelope, MessageType::hello);
  pk.pack_map(3);
  pack_str(pk, "host");
  pack_str(pk, hello.host);
  pack_str(pk, "version");
  pack_str(pk, hello.agent_version);
  pack_str(pk, "labels");
  pack_labels(pk, hello.labels);
}

void encode_batch(std::string& out, const Envelope& envelope, std::span<const SampleView> samples) {
  pack_batch(out, envelope, samples);
}

void encode_batch(std::string& out, const Envelope& envelope, const Batch& batch) {
  pack_batch(out, envelope, batch.samples);
}

void encode_ack(std::string& out, const Envelope& envelope, const Ack& ack) {
  StringSink sink{out};
  Packer pk(sink);
  pack_envelope(pk, envelope, MessageType::ack);
  pk.pack_map(1);
  pack_str(pk, "seq");
  pk.pack_uint64(ack.acked_seq);
}

void encode_error(std::string& out, const Envelope& envelope, const ErrorReply& error) {
  StringSink sink{out};
  Packer pk(sink);
  pack_envelope(pk, envelope, MessageType::error);
  pk.pack_map(3);
  pack_str(pk, "code");
  pack_str(pk, error.code);
  pack_str(pk, "message");
  pack_str(pk, error.message.substr(0, Limits::k_max_text_bytes));
  pack_str(pk, "ref_seq");
  pk.pack_uint64(error.ref_seq);
}

Result<Message> decode(std::span<const std::byte> frame) {
  MsgpackReader reader(frame);
  auto envelope = read_envelope(reader, frame.size());
  if (!envelope) {
    return fail(std::move(envelope).error());
  }
  auto body = read_message_body(reader, envelope->type);
  if (!body) {
    return fail(std::move(body).error());
  }
  if (!reader.at_end()) {
    return fail(ErrorCode::protocol,
                std::to_string(reader.remaining()) + " trailing bytes after the message");
  }
  return Message{std::move(*envelope), std::move(*body)};
}

Result<Message> decode(std::string_view frame) {
  return decode(std::as_bytes(std::span(frame.data(), frame.size())));
}

Result<Envelope> peek_envelope(std::span<const std::byte> frame) {
  MsgpackReader reader(frame);
  return read_envelope(reader, frame.size());
}

} // namespace medic::protocol
