// SPDX-License-Identifier: Apache-2.0
// The encoders: msgpack-cxx's packer writing straight into the caller's reused buffer.
#include <bit>

#include <msgpack.hpp>

#include "protocol/buffer_sink.hpp"
#include "protocol/codec.hpp"

namespace medic::protocol {

namespace {

constexpr std::uint32_t k_envelope_items = 6;

class Writer {
public:
  explicit Writer(std::string& out) : m_sink(out), m_packer(m_sink) {}

  void envelope(const Envelope& envelope, MessageType type, std::uint32_t body_keys) {
    m_packer.pack_array(k_envelope_items);
    m_packer.pack_uint32(envelope.version);
    m_packer.pack_uint8(static_cast<std::uint8_t>(type));
    str(envelope.agent_id);
    m_packer.pack_uint64(envelope.seq);
    m_packer.pack_int64(envelope.sent_at_ms);
    m_packer.pack_map(body_keys);
  }

  void str(std::string_view text) {
    m_packer.pack_str(static_cast<std::uint32_t>(text.size()));
    m_packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
  }

  // Always float 64. msgpack-cxx's pack_double turns whole values into integers, which for
  // values in [2^63, 2^64] is undefined behaviour and yields a uint64 that is not an int64.
  void float64(double value) {
    const auto bits = std::bit_cast<std::uint64_t>(value);
    char bytes[9];
    bytes[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) {
      bytes[1 + i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xff);
    }
    m_sink.write(bytes, sizeof(bytes));
  }

  void key_str(std::string_view key, std::string_view value) {
    str(key);
    str(value);
  }
  void key_uint(std::string_view key, std::uint64_t value) {
    str(key);
    m_packer.pack_uint64(value);
  }
  void key_int(std::string_view key, std::int64_t value) {
    str(key);
    m_packer.pack_int64(value);
  }

  void actions(const std::vector<ActionSchema>& actions) {
    m_packer.pack_array(static_cast<std::uint32_t>(actions.size()));
    for (const auto& action : actions) {
      m_packer.pack_map(action.risk.empty() ? 2 : 3);
      key_str("name", action.name);
      if (!action.risk.empty()) {
        key_str("risk", action.risk);
      }
      str("params");
      m_packer.pack_array(static_cast<std::uint32_t>(action.params.size()));
      for (const auto& param : action.params) {
        param_schema(param);
      }
    }
  }

  void param_schema(const ParamSchema& param) {
    const std::uint32_t keys = 3 + (param.allowed.empty() ? 0 : 1) +
                               (param.pattern.empty() ? 0 : 1) + (param.min ? 1 : 0) +
                               (param.max ? 1 : 0);
    m_packer.pack_map(keys);
    key_str("name", param.name);
    key_str("type", param.type);
    str("required");
    if (param.required) {
      m_packer.pack_true();
    } else {
      m_packer.pack_false();
    }
    if (!param.allowed.empty()) {
      str("enum");
      m_packer.pack_array(static_cast<std::uint32_t>(param.allowed.size()));
      for (const auto& value : param.allowed) {
        str(value);
      }
    }
    if (!param.pattern.empty()) {
      key_str("pattern", param.pattern);
    }
    if (param.min) {
      key_int("min", *param.min);
    }
    if (param.max) {
      key_int("max", *param.max);
    }
  }

  template <class PairRange>
  void pairs(const PairRange& items) {
    m_packer.pack_map(static_cast<std::uint32_t>(std::size(items)));
    for (const auto& item : items) {
      str(item.name);
      str(item.value);
    }
  }

  template <class SampleLike>
  void sample(const SampleLike& sample) {
    const bool has_labels = !std::empty(sample.labels);
    m_packer.pack_array(has_labels ? 4 : 3);
    str(sample.name);
    float64(sample.value);
    m_packer.pack_int64(sample.time_ms);
    if (has_labels) {
      pairs(sample.labels);
    }
  }

  template <class SignalLike>
  void signal(const SignalLike& signal) {
    const bool has_labels = !std::empty(signal.labels);
    const bool has_message = !std::empty(signal.message);
    m_packer.pack_map(7 + (has_labels ? 1 : 0) + (has_message ? 1 : 0));
    key_str("rule", signal.rule);
    key_str("state", to_string(signal.state));
    key_str("severity", to_string(signal.severity));
    key_str("category", to_string(signal.category));
    key_str("fingerprint", signal.fingerprint);
    str("value");
    float64(signal.value);
    key_int("time_ms", signal.time_ms);
    if (has_labels) {
      str("labels");
      pairs(signal.labels);
    }
    if (has_message) {
      key_str("message", std::string_view(signal.message).substr(0, Limits::k_max_text_bytes));
    }
  }

  template <class LogEventLike>
  void log_event(const LogEventLike& event) {
    const bool gap = event.kind == LogEventKind::gap;
    const bool has_rule = !std::empty(event.rule);
    const bool has_labels = !std::empty(event.labels);
    m_packer.pack_map(6 + (gap ? 1 : 0) + (has_rule ? 1 : 0) + (event.template_id ? 1 : 0) +
                      (has_labels ? 1 : 0));
    key_str("kind", gap ? "gap" : "line");
    key_str("source", event.source);
    key_str("path", std::string_view(event.path).substr(0, Limits::k_max_path_bytes));
    key_int("time_ms", event.time_ms);
    key_uint("offset", event.offset);
    key_str("text", std::string_view(event.text).substr(0, Limits::k_max_log_text_bytes));
    if (gap) {
      key_uint("bytes", event.gap_bytes);
    }
    if (has_rule) {
      key_str("rule", event.rule);
    }
    if (event.template_id) {
      key_uint("template", *event.template_id);
    }
    if (has_labels) {
      str("labels");
      pairs(event.labels);
    }
  }

  static std::uint32_t result_keys(const CommandResult& r) {
    return 7 + (r.origin.empty() ? 0 : 1) + (r.action.empty() ? 0 : 1) + (r.rule.empty() ? 0 : 1) +
           (r.target.empty() ? 0 : 1) + (r.params.empty() ? 0 : 1) +
           (r.post_check.empty() ? 0 : 1) + (r.rollback.empty() ? 0 : 1) +
           (r.rollback_status.empty() ? 0 : 1) + (r.plan.empty() ? 0 : 1) +
           (r.audit_seq == 0 ? 0 : 1);
  }

  // The keys of a result (the caller wrote the map header with result_keys).
  void result_fields(const CommandResult& r) {
    key_str("id", r.command_id);
    key_str("status", to_string(r.status));
    key_str("reason", std::string_view(r.reason).substr(0, Limits::k_max_text_bytes));
    key_int("exit_code", r.exit_code);
    key_int("started_ms", r.started_ms);
    key_int("finished_ms", r.finished_ms);
    key_str("output", std::string_view(r.output).substr(0, Limits::k_max_output_bytes));
    optional_str("origin", r.origin);
    optional_str("action", r.action);
    optional_str("rule", r.rule);
    optional_str("target", r.target);
    if (!r.params.empty()) {
      str("params");
      pairs(r.params);
    }
    optional_str("post_check", r.post_check);
    optional_str("rollback", r.rollback);
    optional_str("rollback_status", r.rollback_status);
    optional_str("plan", std::string_view(r.plan).substr(0, Limits::k_max_text_bytes));
    if (r.audit_seq != 0) {
      key_uint("audit_seq", r.audit_seq);
    }
  }

  void optional_str(std::string_view key, std::string_view value) {
    if (!value.empty()) {
      key_str(key, value);
    }
  }

  void budget(const BudgetReport& b) {
    m_packer.pack_map(6);
    key_str("target", b.target);
    key_str("action", b.action);
    key_uint("attempts", b.attempts);
    key_int("window_start_ms", b.window_start_ms);
    key_int("next_allowed_ms", b.next_allowed_ms);
    str("needs_person");
    if (b.needs_person) {
      m_packer.pack_true();
    } else {
      m_packer.pack_false();
    }
  }

  void evidence(const Evidence& e) {
    m_packer.pack_map(6);
    key_str("fingerprint", e.fingerprint);
    key_str("rule", e.rule);
    key_str("action", e.action);
    key_int("time_ms", e.time_ms);
    key_str("status", to_string(e.status));
    key_str("output", std::string_view(e.output).substr(0, Limits::k_max_output_bytes));
  }

  template <class Items, class WriteOne>
  void items(std::string_view key, const Items& items, WriteOne write_one) {
    str(key);
    m_packer.pack_array(static_cast<std::uint32_t>(std::size(items)));
    for (const auto& item : items) {
      write_one(item);
    }
  }

  // Signals and logs are written only when there are some, so a samples-only batch is
  // byte-for-byte what an agent that predates them sends.
  // Results, budgets and evidence likewise.
  template <class Samples, class Signals, class Logs>
  void batch(const Envelope& envelope, const Samples& samples, const Signals& signals,
             const Logs& logs, std::span<const CommandResult> results,
             std::span<const BudgetReport> budgets, std::span<const Evidence> evidence,
             const DropCounts& dropped) {
    const bool has_drops = dropped != DropCounts{};
    const bool has_signals = !std::empty(signals);
    const bool has_logs = !std::empty(logs);
    this->envelope(envelope, MessageType::batch,
                   1 + (has_drops ? 1 : 0) + (has_signals ? 1 : 0) + (has_logs ? 1 : 0) +
                       (results.empty() ? 0 : 1) + (budgets.empty() ? 0 : 1) +
                       (evidence.empty() ? 0 : 1));
    items("samples", samples, [this](const auto& item) { sample(item); });
    if (has_signals) {
      items("signals", signals, [this](const auto& item) { signal(item); });
    }
    if (has_logs) {
      items("logs", logs, [this](const auto& item) { log_event(item); });
    }
    if (!results.empty()) {
      items("results", results, [this](const CommandResult& item) {
        m_packer.pack_map(result_keys(item));
        result_fields(item);
      });
    }
    if (!budgets.empty()) {
      items("budgets", budgets, [this](const BudgetReport& item) { budget(item); });
    }
    if (!evidence.empty()) {
      items("evidence", evidence, [this](const Evidence& item) { this->evidence(item); });
    }
    if (has_drops) {
      str("dropped");
      m_packer.pack_map(3);
      key_uint("batches", dropped.batches);
      key_uint("items", dropped.items);
      key_uint("bytes", dropped.bytes);
    }
  }

private:
  detail::BufferSink m_sink;
  msgpack::packer<detail::BufferSink> m_packer;
};

} // namespace

void encode_hello(std::string& out, const Envelope& envelope, const Hello& hello) {
  Writer writer(out);
  writer.envelope(envelope, MessageType::hello, 4);
  writer.key_str("host", hello.host);
  writer.key_str("version", hello.agent_version);
  writer.str("labels");
  writer.pairs(hello.labels);
  writer.str("actions");
  writer.actions(hello.actions);
}

void encode_batch(std::string& out, const Envelope& envelope, std::span<const SampleView> samples,
                  const DropCounts& dropped) {
  Writer(out).batch(envelope, samples, std::span<const SignalView>{},
                    std::span<const LogEventView>{}, {}, {}, {}, dropped);
}

void encode_batch(std::string& out, const Envelope& envelope, const BatchView& batch) {
  Writer(out).batch(envelope, batch.samples, batch.signals, batch.logs, batch.results,
                    batch.budgets, batch.evidence, batch.dropped);
}

void encode_batch(std::string& out, const Envelope& envelope, const Batch& batch) {
  Writer(out).batch(envelope, batch.samples, batch.signals, batch.logs, batch.results,
                    batch.budgets, batch.evidence, batch.dropped);
}

void encode_ack(std::string& out, const Envelope& envelope, const Ack& ack) {
  Writer writer(out);
  writer.envelope(envelope, MessageType::ack, 1);
  writer.key_uint("seq", ack.acked_seq);
}

void encode_heartbeat(std::string& out, const Envelope& envelope, const Heartbeat& heartbeat) {
  Writer writer(out);
  // Fields are optional and omitted when zero: the coordinator's heartbeat is an empty map.
  const std::uint32_t keys =
      (heartbeat.spool_batches != 0 ? 1 : 0) + (heartbeat.spool_bytes != 0 ? 1 : 0);
  writer.envelope(envelope, MessageType::heartbeat, keys);
  if (heartbeat.spool_batches != 0) {
    writer.key_uint("spool_batches", heartbeat.spool_batches);
  }
  if (heartbeat.spool_bytes != 0) {
    writer.key_uint("spool_bytes", heartbeat.spool_bytes);
  }
}

void encode_command(std::string& out, const Envelope& envelope, const Command& command) {
  Writer writer(out);
  writer.envelope(envelope, MessageType::command, 4);
  writer.key_str("id", command.id);
  writer.key_int("deadline_ms", command.deadline_ms);
  writer.key_str("action", command.action);
  writer.str("params");
  writer.pairs(command.params);
}

void encode_result(std::string& out, const Envelope& envelope, const CommandResult& result) {
  Writer writer(out);
  writer.envelope(envelope, MessageType::result, Writer::result_keys(result));
  writer.result_fields(result);
}

void encode_error(std::string& out, const Envelope& envelope, const ErrorReply& error) {
  Writer writer(out);
  writer.envelope(envelope, MessageType::error, error.ref_seq ? 3 : 2);
  writer.key_str("code", error.code);
  writer.key_str("message", std::string_view(error.message).substr(0, Limits::k_max_text_bytes));
  if (error.ref_seq) {
    writer.key_uint("ref_seq", *error.ref_seq);
  }
}

void encode(std::string& out, const Message& message) {
  std::visit(
      [&](const auto& body) {
        using Kind = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<Kind, Hello>) {
          encode_hello(out, message.envelope, body);
        } else if constexpr (std::is_same_v<Kind, Batch>) {
          encode_batch(out, message.envelope, body);
        } else if constexpr (std::is_same_v<Kind, Ack>) {
          encode_ack(out, message.envelope, body);
        } else if constexpr (std::is_same_v<Kind, Heartbeat>) {
          encode_heartbeat(out, message.envelope, body);
        } else if constexpr (std::is_same_v<Kind, Command>) {
          encode_command(out, message.envelope, body);
        } else if constexpr (std::is_same_v<Kind, CommandResult>) {
          encode_result(out, message.envelope, body);
        } else if constexpr (std::is_same_v<Kind, Policy>) {
          encode_policy(out, message.envelope, body);
        } else {
          encode_error(out, message.envelope, body);
        }
      },
      message.body);
}

} // namespace medic::protocol
