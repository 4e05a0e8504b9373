// SPDX-License-Identifier: Apache-2.0
// The strict decoder: a bounds-checked pull reader walks the frame once; each body is a map
// whose known keys are read into the message struct and whose unknown keys are skipped.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "protocol/codec.hpp"
#include "protocol/decode_fields.hpp"

namespace medic::protocol {

namespace {

using namespace detail;

constexpr std::uint32_t k_envelope_items = 6;

Result<bool> param_into(MsgpackReader& reader, ParamSchema& param) {
  return read_body(reader, "param", std::array<std::string_view, 2>{"name", "type"},
                   [&](std::string_view key) -> Result<bool> {
                     if (key == "name") {
                       return name_into(reader, param.name, Limits::k_max_name_bytes);
                     }
                     if (key == "type") {
                       return name_into(reader, param.type, Limits::k_max_name_bytes);
                     }
                     if (key == "required") {
                       auto value = reader.read_bool();
                       param.required = value.value_or(true);
                       return value.map([](bool) { return true; });
                     }
                     if (key == "enum") {
                       return strings_into(reader, param.allowed, Limits::k_max_enum_values);
                     }
                     if (key == "pattern") {
                       return text_into(reader, param.pattern, Limits::k_max_text_bytes);
                     }
                     if (key == "min") {
                       return optional_int_into(reader, param.min);
                     }
                     if (key == "max") {
                       return optional_int_into(reader, param.max);
                     }
                     return false;
                   })
      .map([] { return true; });
}

Result<bool> action_into(MsgpackReader& reader, ActionSchema& action) {
  return read_body(reader, "action", std::array<std::string_view, 1>{"name"},
                   [&](std::string_view key) -> Result<bool> {
                     if (key == "name") {
                       return name_into(reader, action.name, Limits::k_max_name_bytes);
                     }
                     if (key == "risk") {
                       return name_into(reader, action.risk, Limits::k_max_name_bytes);
                     }
                     if (key != "params") {
                       return false;
                     }
                     auto count = reader.read_array(Limits::k_max_params);
                     if (!count) {
                       return fail(std::move(count).error());
                     }
                     action.params.resize(*count);
                     for (std::uint32_t i = 0; i < *count; ++i) {
                       if (auto param = param_into(reader, action.params[i]); !param) {
                         return fail(at("[" + std::to_string(i) + "]", std::move(param).error()));
                       }
                     }
                     return true;
                   })
      .map([] { return true; });
}

Result<bool> actions_into(MsgpackReader& reader, std::vector<ActionSchema>& actions) {
  auto count = reader.read_array(Limits::k_max_actions);
  if (!count) {
    return fail(std::move(count).error());
  }
  actions.resize(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    if (auto action = action_into(reader, actions[i]); !action) {
      return fail(at("[" + std::to_string(i) + "]", std::move(action).error()));
    }
  }
  return true;
}

Result<Body> read_body_of(MsgpackReader& reader, MessageType type) {
  using Keys0 = std::array<std::string_view, 0>;
  const std::string_view name = to_string(type);
  auto finish = [](Result<void> read, auto body) -> Result<Body> {
    if (!read) {
      return fail(std::move(read).error());
    }
    return Body(std::move(body));
  };
  switch (type) {
  case MessageType::hello: {
    Hello hello;
    auto read =
        read_body(reader, name, std::array<std::string_view, 2>{"host", "version"},
                  [&](std::string_view key) -> Result<bool> {
                    if (key == "host") {
                      return name_into(reader, hello.host, Limits::k_max_name_bytes);
                    }
                    if (key == "version") {
                      return name_into(reader, hello.agent_version, Limits::k_max_name_bytes);
                    }
                    if (key == "labels") {
                      return labels_into(reader, hello.labels);
                    }
                    if (key == "actions") {
                      return actions_into(reader, hello.actions);
                    }
                    return false;
                  });
    return finish(std::move(read), std::move(hello));
  }
  case MessageType::batch: {
    Batch batch;
    auto read = read_batch_body(reader, batch);
    return finish(std::move(read), std::move(batch));
  }
  case MessageType::ack: {
    Ack ack;
    auto read = read_body(reader, name, std::array<std::string_view, 1>{"seq"},
                          [&](std::string_view key) -> Result<bool> {
                            return key == "seq" ? uint_into(reader, ack.acked_seq) : false;
                          });
    return finish(std::move(read), ack);
  }
  case MessageType::heartbeat: {
    Heartbeat heartbeat;
    auto read = read_body(reader, name, Keys0{}, [&](std::string_view key) -> Result<bool> {
      if (key == "spool_batches") {
        return uint_into(reader, heartbeat.spool_batches);
      }
      if (key == "spool_bytes") {
        return uint_into(reader, heartbeat.spool_bytes);
      }
      return false;
    });
    return finish(std::move(read), heartbeat);
  }
  case MessageType::command: {
    Command command;
    auto read =
        read_body(reader, name, std::array<std::string_view, 3>{"id", "deadline_ms", "action"},
                  [&](std::string_view key) -> Result<bool> {
                    if (key == "id") {
                      return name_into(reader, command.id, Limits::k_max_id_bytes);
                    }
                    if (key == "deadline_ms") {
                      return int_into(reader, command.deadline_ms);
                    }
                    if (key == "action") {
                      return name_into(reader, command.action, Limits::k_max_name_bytes);
                    }
                    if (key == "params") {
                      return pairs_into(reader, command.params, Limits::k_max_params,
                                        Limits::k_max_param_value_bytes);
                    }
                    return false;
                  });
    return finish(std::move(read), std::move(command));
  }
  case MessageType::result: {
    CommandResult result;
    auto read = read_result(reader, name, result);
    return finish(std::move(read), std::move(result));
  }
  case MessageType::error: {
    ErrorReply error;
    auto read = read_body(reader, name, std::array<std::string_view, 1>{"code"},
                          [&](std::string_view key) -> Result<bool> {
                            if (key == "code") {
                              return name_into(reader, error.code, Limits::k_max_name_bytes);
                            }
                            if (key == "message") {
                              return text_into(reader, error.message, Limits::k_max_text_bytes);
                            }
                            if (key == "ref_seq") {
                              std::uint64_t seq = 0;
                              auto got = uint_into(reader, seq);
                              error.ref_seq = seq;
                              return got;
                            }
                            return false;
                          });
    return finish(std::move(read), std::move(error));
  }
  case MessageType::policy: return read_policy_body(reader);
  }
  return fail(ErrorCode::protocol, "unknown message type");
}

void set(DecodeFailure* out, DecodeFailure value) {
  if (out != nullptr) {
    *out = value;
  }
}

// Overwrites every field of `envelope` on success (agent_id in place, keeping its capacity).
Result<void> read_envelope(MsgpackReader& reader, std::size_t frame_size, DecodeFailure* failure,
                           Envelope& envelope) {
  set(failure, DecodeFailure::malformed);
  if (frame_size > Limits::k_max_frame_bytes) {
    set(failure, DecodeFailure::too_large);
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
  std::uint64_t version = 0;
  if (auto read = uint_into(reader, version); !read) {
    return fail(at("envelope.version", std::move(read).error()));
  }
  if (version != k_version) {
    set(failure, DecodeFailure::unsupported_version);
    return fail(ErrorCode::protocol, "envelope.version: unsupported protocol version " +
                                         std::to_string(version) + " (this side speaks " +
                                         std::to_string(k_version) + ")");
  }
  envelope.version = k_version;
  std::uint64_t type = 0;
  if (auto read = uint_into(reader, type); !read) {
    return fail(at("envelope.type", std::move(read).error()));
  }
  if (type < 1 || type > static_cast<std::uint64_t>(MessageType::policy)) {
    set(failure, DecodeFailure::unknown_type);
    return fail(ErrorCode::protocol, "envelope.type: unknown message type " + std::to_string(type));
  }
  envelope.type = static_cast<MessageType>(type);
  if (auto id = name_into(reader, envelope.agent_id, Limits::k_max_id_bytes); !id) {
    return fail(at("envelope.agent_id", std::move(id).error()));
  }
  if (auto seq = uint_into(reader, envelope.seq); !seq) {
    return fail(at("envelope.seq", std::move(seq).error()));
  }
  if (auto sent = int_into(reader, envelope.sent_at_ms); !sent) {
    return fail(at("envelope.sent_at_ms", std::move(sent).error()));
  }
  return {};
}

} // namespace

std::string_view error_code(DecodeFailure failure) noexcept {
  switch (failure) {
  case DecodeFailure::malformed: return "malformed";
  case DecodeFailure::too_large: return "too-large";
  case DecodeFailure::unsupported_version: return "unsupported-version";
  case DecodeFailure::unknown_type: return "unknown-type";
  }
  return "malformed";
}

Result<void> decode_into(Message& message, std::span<const std::byte> frame,
                         DecodeFailure* failure) {
  MsgpackReader reader(frame);
  Envelope& envelope = message.envelope;
  if (auto read = read_envelope(reader, frame.size(), failure, envelope); !read) {
    return read;
  }
  set(failure, DecodeFailure::malformed);
  if (envelope.type == MessageType::batch && envelope.seq == 0) {
    return fail(ErrorCode::protocol, "envelope.seq: a BATCH is numbered from 1");
  }
  if (envelope.type == MessageType::batch) {
    // The hot path: read into the batch already there, keeping its buffers.
    auto* batch = std::get_if<Batch>(&message.body);
    if (batch == nullptr) {
      batch = &message.body.emplace<Batch>();
    }
    if (auto read = read_batch_body(reader, *batch); !read) {
      return read;
    }
  } else {
    auto body = read_body_of(reader, envelope.type);
    if (!body) {
      return fail(std::move(body).error());
    }
    message.body = std::move(*body);
  }
  if (!reader.at_end()) {
    return fail(ErrorCode::protocol,
                std::to_string(reader.remaining()) + " trailing bytes after the message");
  }
  return {};
}

Result<void> decode_into(Message& message, std::string_view frame, DecodeFailure* failure) {
  return decode_into(message, std::as_bytes(std::span(frame.data(), frame.size())), failure);
}

Result<Message> decode(std::span<const std::byte> frame, DecodeFailure* failure) {
  Message message;
  if (auto read = decode_into(message, frame, failure); !read) {
    return fail(std::move(read).error());
  }
  return message;
}

Result<Message> decode(std::string_view frame, DecodeFailure* failure) {
  return decode(std::as_bytes(std::span(frame.data(), frame.size())), failure);
}

Result<Envelope> peek_envelope(std::span<const std::byte> frame) {
  MsgpackReader reader(frame);
  Envelope envelope;
  if (auto read = read_envelope(reader, frame.size(), nullptr, envelope); !read) {
    return fail(std::move(read).error());
  }
  return envelope;
}

} // namespace medic::protocol
