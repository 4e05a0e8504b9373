// SPDX-License-Identifier: Apache-2.0
// The BATCH body: samples, signals, log events and drop counts.
#include "protocol/decode_fields.hpp"

namespace medic::protocol::detail {

namespace {

// Overwrites every field of `sample`, so a reused one keeps only its strings' capacity.
Result<void> read_sample(MsgpackReader& reader, Sample& sample) {
  auto items = reader.read_array(4);
  if (!items) {
    return fail(std::move(items).error());
  }
  if (*items < 3) {
    return fail(ErrorCode::protocol, "expected [name, value, time_ms, labels?], got " +
                                         std::to_string(*items) + " items");
  }
  if (auto name = name_into(reader, sample.name, Limits::k_max_name_bytes); !name) {
    return fail(at("name", std::move(name).error()));
  }
  if (auto value = number_into(reader, sample.value); !value) {
    return fail(at("value", std::move(value).error()));
  }
  if (auto time = int_into(reader, sample.time_ms); !time) {
    return fail(at("time_ms", std::move(time).error()));
  }
  if (*items < 4) {
    sample.labels.clear();
  } else if (auto labels = labels_into(reader, sample.labels); !labels) {
    return fail(at("labels", std::move(labels).error()));
  }
  return {};
}

// The samples already in `samples` are overwritten in place (their names' buffers reused); the
// count is checked against the bytes left before anything is allocated.
Result<bool> samples_into(MsgpackReader& reader, std::vector<Sample>& samples) {
  auto count = reader.read_array(Limits::k_max_samples);
  if (!count) {
    return fail(std::move(count).error());
  }
  samples.resize(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    if (auto sample = read_sample(reader, samples[i]); !sample) {
      return fail(at("[" + std::to_string(i) + "]", std::move(sample).error()));
    }
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

// A word from a closed set (state, severity, category, kind), read as a name.
template <class Enum, class Parse>
Result<bool> word_into(MsgpackReader& reader, Enum& target, Parse parse) {
  auto text = read_name(reader, Limits::k_max_name_bytes);
  if (!text) {
    return fail(std::move(text).error());
  }
  const std::optional<Enum> value = parse(*text);
  if (!value) {
    return fail(ErrorCode::protocol, "unknown value '" + std::string(text->substr(0, 32)) + "'");
  }
  target = *value;
  return true;
}

Result<bool> signal_into(MsgpackReader& reader, Signal& signal) {
  constexpr std::array<std::string_view, 6> required{"rule",     "state",       "severity",
                                                     "category", "fingerprint", "time_ms"};
  return read_body(reader, "signal", required,
                   [&](std::string_view key) -> Result<bool> {
                     if (key == "rule") {
                       return name_into(reader, signal.rule, Limits::k_max_name_bytes);
                     }
                     if (key == "state") {
                       return word_into(reader, signal.state, parse_signal_state);
                     }
                     if (key == "severity") {
                       return word_into(reader, signal.severity, parse_severity);
                     }
                     if (key == "category") {
                       return word_into(reader, signal.category, parse_category);
                     }
                     if (key == "fingerprint") {
                       return name_into(reader, signal.fingerprint, Limits::k_max_id_bytes);
                     }
                     if (key == "value") {
                       return number_into(reader, signal.value);
                     }
                     if (key == "time_ms") {
                       return int_into(reader, signal.time_ms);
                     }
                     if (key == "labels") {
                       return labels_into(reader, signal.labels);
                     }
                     if (key == "message") {
                       return text_into(reader, signal.message, Limits::k_max_text_bytes);
                     }
                     return false;
                   })
      .map([] { return true; });
}

std::optional<LogEventKind> parse_log_kind(std::string_view text) noexcept {
  if (text == "line") {
    return LogEventKind::line;
  }
  if (text == "gap") {
    return LogEventKind::gap;
  }
  return std::nullopt;
}

Result<bool> template_into(MsgpackReader& reader, std::optional<std::uint32_t>& target) {
  std::uint32_t id = 0;
  auto read = uint_into(reader, id);
  if (read) {
    target = id;
  }
  return read;
}

Result<bool> log_event_into(MsgpackReader& reader, LogEvent& event) {
  constexpr std::array<std::string_view, 5> required{"kind", "source", "path", "time_ms", "offset"};
  return read_body(reader, "log", required,
                   [&](std::string_view key) -> Result<bool> {
                     if (key == "kind") {
                       return word_into(reader, event.kind, parse_log_kind);
                     }
                     if (key == "source") {
                       return name_into(reader, event.source, Limits::k_max_name_bytes);
                     }
                     if (key == "path") {
                       return text_into(reader, event.path, Limits::k_max_path_bytes);
                     }
                     if (key == "time_ms") {
                       return int_into(reader, event.time_ms);
                     }
                     if (key == "offset") {
                       return uint_into(reader, event.offset);
                     }
                     if (key == "text") {
                       return text_into(reader, event.text, Limits::k_max_log_text_bytes);
                     }
                     if (key == "rule") {
                       return name_into(reader, event.rule, Limits::k_max_name_bytes);
                     }
                     if (key == "template") {
                       return template_into(reader, event.template_id);
                     }
                     if (key == "bytes") {
                       return uint_into(reader, event.gap_bytes);
                     }
                     if (key == "labels") {
                       return labels_into(reader, event.labels);
                     }
                     return false;
                   })
      .map([] { return true; });
}

// An array of at most `max_items` maps, each read by `read_one`.
template <class Item, class ReadOne>
Result<bool> items_into(MsgpackReader& reader, std::vector<Item>& items, std::size_t max_items,
                        ReadOne read_one) {
  auto count = reader.read_array(max_items);
  if (!count) {
    return fail(std::move(count).error());
  }
  items.resize(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    if (auto read = read_one(reader, items[i]); !read) {
      return fail(at("[" + std::to_string(i) + "]", std::move(read).error()));
    }
  }
  return true;
}

} // namespace

Result<void> read_batch_body(MsgpackReader& reader, Batch& batch) {
  // Whatever a reused batch held: every optional part starts empty, as in a fresh one. The
  // samples are required and overwritten in place.
  batch.signals.clear();
  batch.logs.clear();
  batch.results.clear();
  batch.budgets.clear();
  batch.evidence.clear();
  batch.dropped = {};
  auto read = read_body(
      reader, "BATCH", std::array<std::string_view, 1>{"samples"},
      [&](std::string_view key) -> Result<bool> {
        if (key == "samples") {
          return samples_into(reader, batch.samples);
        }
        if (key == "signals") {
          return items_into(reader, batch.signals, Limits::k_max_signals, signal_into);
        }
        if (key == "logs") {
          return items_into(reader, batch.logs, Limits::k_max_log_events, log_event_into);
        }
        if (key == "results") {
          return items_into(reader, batch.results, Limits::k_max_results, result_into);
        }
        if (key == "budgets") {
          return items_into(reader, batch.budgets, Limits::k_max_budgets, budget_into);
        }
        if (key == "evidence") {
          return items_into(reader, batch.evidence, Limits::k_max_evidence, evidence_into);
        }
        if (key == "dropped") {
          return drops_into(reader, batch.dropped);
        }
        return false;
      });
  if (!read) {
    return fail(std::move(read).error());
  }
  return {};
}

} // namespace medic::protocol::detail
