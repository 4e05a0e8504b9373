// SPDX-License-Identifier: Apache-2.0
// The strict decoder: a bounds-checked pull reader walks the frame once; each body is a map
// whose known keys are read into the message struct and whose unknown keys are skipped.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "protocol/codec.hpp"
#include "protocol/msgpack_reader.hpp"

namespace medic::protocol {

namespace {

using detail::MsgpackReader;

constexpr std::uint32_t k_envelope_items = 6;

Error at(std::string_view path, Error error) {
  return std::move(error).context(path);
}

// Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool is_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf) {
      extra = 1;
      code = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      extra = 2;
      code = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      extra = 3;
      code = b & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xc0) != 0x80) {
        return false;
      }
      code = (code << 6) | (c & 0x3f);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10ffff))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
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
  if (!is_utf8(*text)) {
    return fail(ErrorCode::protocol, "is not valid UTF-8");
  }
  return text;
}

// Field readers: store into `target`, report success as Result<bool>(true) so they can be
// returned straight from a body's key handler.
Result<bool> name_into(MsgpackReader& reader, std::string& target, std::size_t max_bytes) {
  auto text = read_name(reader, max_bytes);
  if (!text) {
    return fail(std::move(text).error());
  }
  target = *text;
  return true;
}

Result<bool> text_into(MsgpackReader& reader, std::string& target, std::size_t max_bytes) {
  auto text = reader.read_string(max_bytes);
  if (!text) {
    return fail(std::move(text).error());
  }
  target = *text;
  return true;
}

template <class Unsigned>
Result<bool> uint_into(MsgpackReader& reader, Unsigned& target) {
  auto value = reader.read_uint();
  if (!value) {
    return fail(std::move(value).error());
  }
  if (*value > std::numeric_limits<Unsigned>::max()) {
    return fail(ErrorCode::protocol, std::to_string(*value) + " is out of range");
  }
  target = static_cast<Unsigned>(*value);
  return true;
}

Result<bool> int_into(MsgpackReader& reader, std::int64_t& target) {
  auto value = reader.read_int();
  if (!value) {
    return fail(std::move(value).error());
  }
  target = *value;
  return true;
}

Result<bool> pairs_into(MsgpackReader& reader, std::vector<Label>& target, std::size_t max_pairs,
                        std::size_t max_value_bytes) {
  auto count = reader.read_map(max_pairs);
  if (!count) {
    return fail(std::move(count).error());
  }
  target.clear();
  target.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto name = read_name(reader, Limits::k_max_name_bytes);
    if (!name) {
      return fail(at("name", std::move(name).error()));
    }
    auto value = reader.read_string(max_value_bytes);
    if (!value) {
      return fail(at("'" + std::string(*name) + "'", std::move(value).error()));
    }
    target.push_back({std::string(*name), std::string(*value)});
  }
  return true;
}

Result<bool> strings_into(MsgpackReader& reader, std::vector<std::string>& target,
                          std::size_t max_items) {
  auto count = reader.read_array(max_items);
  if (!count) {
    return fail(std::move(count).error());
  }
  target.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto text = read_name(reader, Limits::k_max_label_value_bytes);
    if (!text) {
      return fail(at("[" + std::to_string(i) + "]", std::move(text).error()));
    }
    target.emplace_back(*text);
  }
  return true;
}

Result<bool> optional_int_into(MsgpackReader& reader, std::optional<std::int64_t>& target) {
  std::int64_t value = 0;
  auto read = int_into(reader, value);
  if (read) {
    target = value;
  }
  return read;
}

Result<bool> labels_into(MsgpackReader& reader, std::vector<Label>& target) {
  return pairs_into(reader, target, Limits::k_max_labels, Limits::k_max_label_value_bytes);
}

// Walks a body map. `on_key(key)` returns true for a key it consumed, false to have it skipped
// (unknown keys are ignored, for forward compatibility). Duplicate keys are refused, and every
// key in `required` must appear.
template <std::size_t N, class OnKey>
Result<void> read_body(MsgpackReader& reader, std::string_view type,
                       const std::array<std::string_view, N>& required, OnKey&& on_key) {
  const std::string where(type);
  auto pairs = reader.read_map(Limits::k_max_body_keys);
  if (!pairs) {
    return fail(at(where + " body", std::move(pairs).error()));
  }
  std::array<std::string_view, Limits::k_max_body_keys> seen{};
  std::size_t seen_count = 0;
  for (std::uint32_t i = 0; i < *pairs; ++i) {
    auto key = reader.read_string(Limits::k_max_name_bytes);
    if (!key) {
      return fail(at(where + " body key", std::move(key).error()));
    }
    const auto seen_end = seen.begin() + static_cast<std::ptrdiff_t>(seen_count);
    if (std::find(seen.begin(), seen_end, *key) != seen_end) {
      return fail(ErrorCode::protocol, where + "." + std::string(*key) + ": duplicate key");
    }
    seen[seen_count++] = *key;
    auto consumed = on_key(*key);
    if (consumed && !*consumed) {
      consumed = reader.skip(Limits::k_max_skip_depth).map([] { return true; });
    }
    if (!consumed) {
      return fail(at(where + "." + std::string(*key), std::move(consumed).error()));
    }
  }
  for (const auto key : required) {
    const auto seen_end = seen.begin() + static_cast<std::ptrdiff_t>(seen_count);
    if (std::find(seen.begin(), seen_end, key) == seen_end) {
      return fail(ErrorCode::protocol, where + "." + std::string(key) + ": missing");
    }
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
  if (auto name = name_into(reader, sample.name, Limits::k_max_name_bytes); !name) {
    return fail(at("name", std::move(name).error()));
  }
  auto value = reader.read_number();
  if (!value) {
    return fail(at("value", std::move(value).error()));
  }
  if (!std::isfinite(*value)) {
    return fail(ErrorCode::protocol, "value: must be a finite number");
  }
  sample.value = *value;
  if (auto time = int_into(reader, sample.time_ms); !time) {
    return fail(at("time_ms", std::move(time).error()));
  }
  if (*items == 4) {
    if (auto labels = labels_into(reader, sample.labels); !labels) {
      return fail(at("labels", std::move(labels).error()));
    }
  }
  return sample;
}

Result<bool> samples_into(MsgpackReader& reader, std::vector<Sample>& samples) {
  auto count = reader.read_array(Limits::k_max_samples);
  if (!count) {
    return fail(std::move(count).error());
  }
  samples.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto sample = read_sample(reader);
    if (!sample) {
      return fail(at("[" + std::to_string(i) + "]", std::move(sample).error()));
    }
    samples.push_back(std::move(*sample));
  }
  return true;
}

Result<bool> drops_into(MsgpackReader& reader, DropCounts& dropped) {
  return read_body(reader, "BATCH.dropped", std::array<std::string_view, 0>{},
                   [&](std::string_view key) -> Result<bool> {
                     if (key == "batches") {
                       return uint_into(reader, dropped.batches);
                     }
                     if (key == "items") {
                       return uint_into(reader, dropped.items);
                     }
                     if (key == "bytes") {
                       return uint_into(reader, dropped.bytes);
                     }
                     return false;
                   })
      .map([] { return true; });
}

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

Result<ResultStatus> parse_status(std::string_view text) {
  for (const auto status :
       {ResultStatus::succeeded, ResultStatus::failed, ResultStatus::rejected,
        ResultStatus::expired, ResultStatus::duplicate, ResultStatus::timed_out}) {
    if (text == to_string(status)) {
      return status;
    }
  }
  return fail(ErrorCode::protocol, "unknown status '" + std::string(text.substr(0, 32)) + "'");
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
    auto read = read_body(reader, name, std::array<std::string_view, 1>{"samples"},
                          [&](std::string_view key) -> Result<bool> {
                            if (key == "samples") {
                              return samples_into(reader, batch.samples);
                            }
                            if (key == "dropped") {
                              return drops_into(reader, batch.dropped);
                            }
                            return false;
                          });
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
    auto read = read_body(reader, name, std::array<std::string_view, 2>{"id", "status"},
                          [&](std::string_view key) -> Result<bool> {
                            if (key == "id") {
                              return name_into(reader, result.command_id, Limits::k_max_id_bytes);
                            }
                            if (key == "status") {
                              auto text = reader.read_string(Limits::k_max_name_bytes);
                              auto status =
                                  text ? parse_status(*text) : fail(std::move(text).error());
                              if (!status) {
                                return fail(std::move(status).error());
                              }
                              result.status = *status;
                              return true;
                            }
                            if (key == "reason") {
                              return text_into(reader, result.reason, Limits::k_max_text_bytes);
                            }
                            if (key == "exit_code") {
                              return int_into(reader, result.exit_code);
                            }
                            if (key == "started_ms") {
                              return int_into(reader, result.started_ms);
                            }
                            if (key == "finished_ms") {
                              return int_into(reader, result.finished_ms);
                            }
                            if (key == "output") {
                              return text_into(reader, result.output, Limits::k_max_output_bytes);
                            }
                            return false;
                          });
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
  }
  return fail(ErrorCode::protocol, "unknown message type");
}

void set(DecodeFailure* out, DecodeFailure value) {
  if (out != nullptr) {
    *out = value;
  }
}

Result<Envelope> read_envelope(MsgpackReader& reader, std::size_t frame_size,
                               DecodeFailure* failure) {
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
  Envelope envelope;
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
  if (type < 1 || type > 7) {
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
  return envelope;
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

Result<Message> decode(std::span<const std::byte> frame, DecodeFailure* failure) {
  MsgpackReader reader(frame);
  auto envelope = read_envelope(reader, frame.size(), failure);
  if (!envelope) {
    return fail(std::move(envelope).error());
  }
  set(failure, DecodeFailure::malformed);
  if (envelope->type == MessageType::batch && envelope->seq == 0) {
    return fail(ErrorCode::protocol, "envelope.seq: a BATCH is numbered from 1");
  }
  auto body = read_body_of(reader, envelope->type);
  if (!body) {
    return fail(std::move(body).error());
  }
  if (!reader.at_end()) {
    return fail(ErrorCode::protocol,
                std::to_string(reader.remaining()) + " trailing bytes after the message");
  }
  return Message{std::move(*envelope), std::move(*body)};
}

Result<Message> decode(std::string_view frame, DecodeFailure* failure) {
  return decode(std::as_bytes(std::span(frame.data(), frame.size())), failure);
}

Result<Envelope> peek_envelope(std::span<const std::byte> frame) {
  MsgpackReader reader(frame);
  return read_envelope(reader, frame.size(), nullptr);
}

} // namespace medic::protocol
