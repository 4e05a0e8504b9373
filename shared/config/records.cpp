// SPDX-License-Identifier: Apache-2.0
#include "shared/config/records.hpp"

#include <cassert>
#include <charconv>
#include <cmath>

#include <yaml-cpp/yaml.h>

#include "shared/config/units.hpp"

namespace medic::config {

namespace {

std::string_view kind_name(FieldKind kind) {
  switch (kind) {
  case FieldKind::text: return "string";
  case FieldKind::number: return "number";
  case FieldKind::integer: return "integer";
  case FieldKind::duration: return "duration";
  case FieldKind::size: return "size";
  case FieldKind::boolean: return "bool";
  case FieldKind::choice: return "choice";
  case FieldKind::text_list: return "list of strings";
  case FieldKind::text_map: return "mapping of strings";
  case FieldKind::record: return "record";
  case FieldKind::record_list: return "list of records";
  }
  return "value";
}

Result<std::string> scalar_text(const YAML::Node& node, FieldKind kind) {
  if (!node.IsScalar()) {
    return fail(ErrorCode::config, "expected a " + std::string(kind_name(kind)));
  }
  return node.Scalar();
}

Result<double> parse_number(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return fail(ErrorCode::config, "'" + text + "' is not a number");
  }
  return value;
}

Result<std::int64_t> parse_integer(const std::string& text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return fail(ErrorCode::config, "'" + text + "' is not a whole number");
  }
  return value;
}

Result<bool> parse_bool(const std::string& text) {
  if (text == "true" || text == "yes" || text == "on") {
    return true;
  }
  if (text == "false" || text == "no" || text == "off") {
    return false;
  }
  return fail(ErrorCode::config, "'" + text + "' is not true or false");
}

Result<std::vector<std::string>> read_list(const YAML::Node& node) {
  if (!node.IsSequence()) {
    return fail(ErrorCode::config, "expected a list of strings");
  }
  std::vector<std::string> items;
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      return fail(ErrorCode::config, "expected a list of strings");
    }
    items.push_back(item.Scalar());
  }
  return items;
}

Result<std::map<std::string, std::string>> read_map(const YAML::Node& node) {
  if (!node.IsMap()) {
    return fail(ErrorCode::config, "expected a mapping of name: value");
  }
  std::map<std::string, std::string> items;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
      return fail(ErrorCode::config, "expected a mapping of name: value");
    }
    items[entry.first.Scalar()] = entry.second.Scalar();
  }
  return items;
}

Result<FieldValue> read_scalar_value(const YAML::Node& node, const RecordField& field) {
  auto text = scalar_text(node, field.kind);
  if (!text) {
    return fail(std::move(text).error());
  }
  const auto wrap = [](auto parsed) -> Result<FieldValue> {
    if (!parsed) {
      return fail(std::move(parsed).error());
    }
    return FieldValue(std::move(*parsed));
  };
  switch (field.kind) {
  case FieldKind::number: return wrap(parse_number(*text));
  case FieldKind::integer: return wrap(parse_integer(*text));
  case FieldKind::duration: return wrap(parse_duration(*text));
  case FieldKind::size: return wrap(parse_size(*text));
  case FieldKind::boolean: return wrap(parse_bool(*text));
  case FieldKind::choice:
    for (const auto& choice : field.choices) {
      if (choice == *text) {
        return FieldValue(*text);
      }
    }
    return fail(ErrorCode::config, "'" + *text + "' is not one of " + describe_fields({field}));
  default: return FieldValue(std::move(*text));
  }
}

Result<Record> read_record(const YAML::Node& node, const std::string& path,
                           const std::vector<RecordField>& fields);

std::string with_position(const std::string& path, const YAML::Mark& mark) {
  std::string where = path;
  if (mark.line >= 0) {
    where += " (line " + std::to_string(mark.line + 1) + ", column " +
             std::to_string(mark.column + 1) + ")";
  }
  return where;
}

// `path` names the field's value, e.g. "actions[3].params".
Result<FieldValue> read_nested(const YAML::Node& node, const RecordField& field,
                               const std::string& path) {
  std::vector<Record> records;
  if (field.kind == FieldKind::record) {
    auto record = read_record(node, path, field.fields);
    if (!record) {
      return fail(std::move(record).error());
    }
    records.push_back(std::move(*record));
    return FieldValue(std::move(records));
  }
  if (node.IsNull()) {
    return FieldValue(std::move(records)); // "params:" with nothing under it
  }
  if (!node.IsSequence()) {
    return fail(ErrorCode::config,
                with_position(path, node.Mark()) + ": expected a list of mappings");
  }
  std::size_t index = 0;
  for (const auto& item : node) {
    auto record = read_record(item, path + "[" + std::to_string(index++) + "]", field.fields);
    if (!record) {
      return fail(std::move(record).error());
    }
    records.push_back(std::move(*record));
  }
  return FieldValue(std::move(records));
}

Result<FieldValue> read_value(const YAML::Node& node, const RecordField& field) {
  if (field.kind == FieldKind::text_list) {
    auto list = read_list(node);
    return list ? Result<FieldValue>(std::move(*list)) : fail(std::move(list).error());
  }
  if (field.kind == FieldKind::text_map) {
    auto map = read_map(node);
    return map ? Result<FieldValue>(std::move(*map)) : fail(std::move(map).error());
  }
  return read_scalar_value(node, field);
}

std::string nearest_field(std::string_view name, const std::vector<RecordField>& fields) {
  for (const auto& field : fields) {
    const auto common = std::min(name.size(), field.name.size());
    if (common >= 3 && name.substr(0, 3) == std::string_view(field.name).substr(0, 3)) {
      return "; did you mean '" + field.name + "'?";
    }
  }
  return "";
}

Result<Record> read_record(const YAML::Node& node, const std::string& path,
                           const std::vector<RecordField>& fields) {
  std::string where = with_position(path, node.Mark());
  if (!node.IsMap()) {
    return fail(ErrorCode::config, where + ": expected a mapping of fields");
  }
  std::map<std::string, FieldValue> values;
  for (const auto& entry : node) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
    const auto field = std::find_if(fields.begin(), fields.end(),
                                    [&](const RecordField& f) { return f.name == name; });
    if (field == fields.end()) {
      return fail(ErrorCode::config,
                  where + ": unknown field '" + name + "'" + nearest_field(name, fields));
    }
    // Nested errors name their own place ("actions[0].params[1] (line 4, column 9)").
    const bool nested = field->kind == FieldKind::record || field->kind == FieldKind::record_list;
    auto value = nested ? read_nested(entry.second, *field, path + "." + name)
                        : read_value(entry.second, *field);
    if (!value && nested) {
      return fail(std::move(value).error());
    }
    if (!value) {
      return fail(std::move(value).error().context(where + ": field '" + name + "'"));
    }
    values.emplace(name, std::move(*value));
  }
  for (const auto& field : fields) {
    if (field.required && !values.contains(field.name)) {
      return fail(ErrorCode::config, where + ": field '" + field.name + "' is required");
    }
  }
  return Record(std::move(where), std::move(values));
}

} // namespace

bool Record::has(std::string_view field) const {
  return find(field) != nullptr;
}

const FieldValue* Record::find(std::string_view field) const {
  const auto it = m_values.find(std::string(field));
  return it == m_values.end() ? nullptr : &it->second;
}

template <class T>
T value_or(const FieldValue* value, T fallback) {
  if (value == nullptr) {
    return fallback;
  }
  assert(std::holds_alternative<T>(*value));
  const T* typed = std::get_if<T>(value);
  return typed != nullptr ? *typed : fallback;
}

std::string Record::text(std::string_view field, std::string fallback) const {
  return value_or(find(field), std::move(fallback));
}
double Record::number(std::string_view field, double fallback) const {
  return value_or(find(field), fallback);
}
std::optional<double> Record::optional_number(std::string_view field) const {
  return has(field) ? std::optional<double>(number(field)) : std::nullopt;
}
std::int64_t Record::integer(std::string_view field, std::int64_t fallback) const {
  return value_or(find(field), fallback);
}
std::chrono::milliseconds Record::duration(std::string_view field,
                                           std::chrono::milliseconds fallback) const {
  return value_or(find(field), fallback);
}
std::uint64_t Record::size(std::string_view field, std::uint64_t fallback) const {
  return value_or(find(field), fallback);
}
bool Record::boolean(std::string_view field, bool fallback) const {
  return value_or(find(field), fallback);
}
std::vector<std::string> Record::text_list(std::string_view field) const {
  return value_or(find(field), std::vector<std::string>{});
}
std::map<std::string, std::string> Record::text_map(std::string_view field) const {
  return value_or(find(field), std::map<std::string, std::string>{});
}

std::optional<Record> Record::record(std::string_view field) const {
  auto list = value_or(find(field), std::vector<Record>{});
  if (list.empty()) {
    return std::nullopt;
  }
  return std::move(list.front());
}
std::vector<Record> Record::records(std::string_view field) const {
  return value_or(find(field), std::vector<Record>{});
}
std::vector<std::string> Record::given() const {
  std::vector<std::string> names;
  names.reserve(m_values.size());
  for (const auto& entry : m_values) {
    names.push_back(entry.first);
  }
  return names;
}

Error Record::error(std::string_view message) const {
  return Error(ErrorCode::config, m_where + ": " + std::string(message));
}

Result<std::vector<Record>> read_records(const YAML::Node& node, std::string_view key,
                                         const std::vector<RecordField>& fields) {
  std::vector<Record> records;
  if (node.IsNull()) {
    return records;
  }
  if (!node.IsSequence()) {
    return fail(ErrorCode::config, "expected a list of mappings");
  }
  std::size_t index = 0;
  for (const auto& item : node) {
    auto record = read_record(item, std::string(key) + "[" + std::to_string(index++) + "]", fields);
    if (!record) {
      return fail(std::move(record).error());
    }
    records.push_back(std::move(*record));
  }
  return records;
}

namespace {

void describe_at(const std::vector<RecordField>& fields, std::size_t indent, std::string& text) {
  for (const auto& field : fields) {
    text += std::string(indent, ' ') + field.name + " (" + std::string(kind_name(field.kind)) +
            (field.required ? ", required" : "") + "): " + field.doc;
    if (field.kind == FieldKind::choice) {
      text += " [";
      for (std::size_t i = 0; i < field.choices.size(); ++i) {
        text += (i == 0 ? "" : ", ") + field.choices[i];
      }
      text += "]";
    }
    text += "\n";
    describe_at(field.fields, indent + 2, text);
  }
}

} // namespace

std::string describe_fields(const std::vector<RecordField>& fields) {
  std::string text;
  if (fields.size() == 1 && fields.front().kind == FieldKind::choice) {
    for (const auto& choice : fields.front().choices) {
      text += (text.empty() ? "" : ", ") + choice;
    }
    return text;
  }
  describe_at(fields, 8, text);
  return text;
}

} // namespace medic::config
