// SPDX-License-Identifier: Apache-2.0
// Config keys whose value is a list of records (mappings), e.g. the agent's processes, probes,
// log sources and rules: each record type is a table of fields (kind, required or default,
// doc), so unknown fields are errors with suggestions, every value is type-checked where it is
// read, and --help-config documents the fields like any other key.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "shared/error.hpp"

namespace YAML {
class Node;
}

namespace medic::config {

enum class FieldKind : std::uint8_t {
  text,        // a string
  number,      // a finite decimal
  integer,     // a whole number
  duration,    // "500ms", "30s", "4h" (see units.hpp)
  size,        // "64MiB"
  boolean,     // true / false
  choice,      // one of RecordField::choices
  text_list,   // [a, b]
  text_map,    // {k: v}
  record,      // a mapping read against RecordField::fields (e.g. a post-condition)
  record_list, // a list of such mappings (e.g. an action's parameters)
};

struct RecordField {
  std::string name;
  FieldKind kind = FieldKind::text;
  bool required = false;
  std::string doc;
  std::vector<std::string> choices;     // for FieldKind::choice
  std::vector<RecordField> fields = {}; // for FieldKind::record and record_list
};

class Record;

// A record / record_list value is held as a list of records (one element for `record`).
using FieldValue =
    std::variant<std::string, double, std::int64_t, std::chrono::milliseconds, std::uint64_t, bool,
                 std::vector<std::string>, std::map<std::string, std::string>, std::vector<Record>>;

// One record as read: only the fields the file gave. Accessors take the default to use when the
// field is absent; asking for a field with the wrong kind is a programming error (asserts).
class Record {
public:
  Record(std::string where, std::map<std::string, FieldValue> values)
      : m_where(std::move(where)), m_values(std::move(values)) {}

  // "processes[2] (line 14, column 5)": for errors the caller reports about this record.
  [[nodiscard]] const std::string& where() const noexcept { return m_where; }
  [[nodiscard]] bool has(std::string_view field) const;

  [[nodiscard]] std::string text(std::string_view field, std::string fallback = {}) const;
  [[nodiscard]] double number(std::string_view field, double fallback = 0) const;
  [[nodiscard]] std::optional<double> optional_number(std::string_view field) const;
  [[nodiscard]] std::int64_t integer(std::string_view field, std::int64_t fallback = 0) const;
  [[nodiscard]] std::chrono::milliseconds duration(std::string_view field,
                                                   std::chrono::milliseconds fallback = {}) const;
  [[nodiscard]] std::uint64_t size(std::string_view field, std::uint64_t fallback = 0) const;
  [[nodiscard]] bool boolean(std::string_view field, bool fallback = false) const;
  [[nodiscard]] std::vector<std::string> text_list(std::string_view field) const;
  [[nodiscard]] std::map<std::string, std::string> text_map(std::string_view field) const;
  // Nested records; their where() reads "actions[3].params[1] (line 17, column 9)".
  [[nodiscard]] std::optional<Record> record(std::string_view field) const;
  [[nodiscard]] std::vector<Record> records(std::string_view field) const;
  // The names of the fields the file gave, sorted.
  [[nodiscard]] std::vector<std::string> given() const;

  // An error about this record: "processes[2] (line 14, column 5): <message>".
  [[nodiscard]] Error error(std::string_view message) const;

private:
  [[nodiscard]] const FieldValue* find(std::string_view field) const;

  std::string m_where;
  std::map<std::string, FieldValue> m_values;
};

// Reads a YAML sequence of mappings against `fields`. `key` names the list in errors.
[[nodiscard]] Result<std::vector<Record>> read_records(const YAML::Node& node, std::string_view key,
                                                       const std::vector<RecordField>& fields);

// The field table as text for --help-config.
[[nodiscard]] std::string describe_fields(const std::vector<RecordField>& fields);

} // namespace medic::config
