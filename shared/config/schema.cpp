// SPDX-License-Identifier: Apache-2.0
#include "shared/config/schema.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "shared/config/units.hpp"

namespace medic::config {

namespace {

constexpr std::size_t k_max_config_bytes = 4 << 20;

std::string position(std::string_view origin, const YAML::Mark& mark) {
  std::string text(origin);
  if (mark.line >= 0) {
    text += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  return text;
}

Result<std::string> scalar(const YAML::Node& node, std::string_view expected) {
  if (!node.IsScalar()) {
    return fail(ErrorCode::config, "expected " + std::string(expected) + ", got a " +
                                       (node.IsMap()        ? "mapping"
                                        : node.IsSequence() ? "list"
                                                            : "null"));
  }
  return node.Scalar();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string quote_list(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) {
    text += text.empty() ? "" : ", ";
    text += item;
  }
  return text;
}

} // namespace

void Schema::add_string(std::string key, std::string& target, std::string doc, StringCheck check) {
  m_fields.push_back({std::move(key), "string", target, std::move(doc),
                      [&target, check = std::move(check)](const YAML::Node& node) -> Result<void> {
                        auto text = scalar(node, "a string");
                        if (!text) {
                          return fail(std::move(text).error());
                        }
                        if (check) {
                          if (auto ok = check(*text); !ok) {
                            return ok;
                          }
                        }
                        target = std::move(*text);
                        return {};
                      }});
}

void Schema::add_choice(std::string key, std::string& target, std::vector<std::string> allowed,
                        std::string doc) {
  const std::string type = "one of " + quote_list(allowed);
  m_fields.push_back(
      {std::move(key), type, target, std::move(doc),
       [&target, allowed = std::move(allowed)](const YAML::Node& node) -> Result<void> {
         auto text = scalar(node, "a string");
         if (!text) {
           return fail(std::move(text).error());
         }
         if (std::find(allowed.begin(), allowed.end(), *text) == allowed.end()) {
           return fail(ErrorCode::config, "'" + *text + "' is not one of " + quote_list(allowed));
         }
         target = std::move(*text);
         return {};
       }});
}

void Schema::add_duration(std::string key, std::chrono::milliseconds& target,
                          std::chrono::milliseconds min, std::chrono::milliseconds max,
                          std::string doc) {
  m_fields.push_back({std::move(key), "duration", format_duration(target), std::move(doc),
                      [&target, min, max](const YAML::Node& node) -> Result<void> {
                        auto text = scalar(node, "a duration");
                        if (!text) {
                          return fail(std::move(text).error());
                        }
                        auto value = parse_duration(*text);
                        if (!value) {
                          return fail(std::move(value).error());
                        }
                        if (*value < min || *value > max) {
                          return fail(ErrorCode::config, "'" + *text + "' is out of range " +
                                                             format_duration(min) + ".." +
                                                             format_duration(max));
                        }
                        target = *value;
                        return {};
                      }});
}

void Schema::add_size(std::string key, std::uint64_t& target, std::uint64_t min, std::uint64_t max,
                      std::string doc) {
  m_fields.push_back({std::move(key), "size", std::to_string(target) + "B", std::move(doc),
                      [&target, min, max](const YAML::Node& node) -> Result<void> {
                        auto text = scalar(node, "a size");
                        if (!text) {
                          return fail(std::move(text).error());
                        }
                        auto value = parse_size(*text);
                        if (!value) {
                          return fail(std::move(value).error());
                        }
                        if (*value < min || *value > max) {
                          return fail(ErrorCode::config, "'" + *text + "' is out of range " +
                                                             std::to_string(min) + ".." +
                                                             std::to_string(max) + " bytes");
                        }
                        target = *value;
                        return {};
                      }});
}

void Schema::add_bool(std::string key, bool& target, std::string doc) {
  m_fields.push_back({std::move(key), "bool", target ? "true" : "false", std::move(doc),
                      [&target](const YAML::Node& node) -> Result<void> {
                        auto text = scalar(node, "true or false");
                        if (!text) {
                          return fail(std::move(text).error());
                        }
                        if (*text == "true" || *text == "yes" || *text == "on") {
                          target = true;
                        } else if (*text == "false" || *text == "no" || *text == "off") {
                          target = false;
                        } else {
                          return fail(ErrorCode::config,
                                      "expected true or false, got '" + *text + "'");
                        }
                        return {};
                      }});
}

void Schema::add_string_list(std::string key, std::vector<std::string>& target, std::string doc) {
  m_fields.push_back({std::move(key), "list of strings", "[" + quote_list(target) + "]",
                      std::move(doc), [&target](const YAML::Node& node) -> Result<void> {
                        if (!node.IsSequence()) {
                          return fail(ErrorCode::config, "expected a list of strings");
                        }
                        std::vector<std::string> values;
                        for (const auto& item : node) {
                          auto text = scalar(item, "a string in the list");
                          if (!text) {
                            return fail(std::move(text).error());
                          }
                          values.push_back(std::move(*text));
                        }
                        target = std::move(values);
                        return {};
                      }});
}

void Schema::add_records(std::string key, std::vector<RecordField> fields, std::string doc,
                         std::function<Result<void>(const std::vector<Record>&)> apply) {
  std::string full_doc = doc + "\n      fields:\n" + describe_fields(fields);
  while (!full_doc.empty() && full_doc.back() == '\n') {
    full_doc.pop_back();
  }
  m_fields.push_back({key, "list of records", "(shipped set, see the packaged config)",
                      std::move(full_doc),
                      [key, fields = std::move(fields),
                       apply = std::move(apply)](const YAML::Node& node) -> Result<void> {
                        auto records = read_records(node, key, fields);
                        if (!records) {
                          return fail(std::move(records).error());
                        }
                        return apply(*records);
                      }});
}

void Schema::add_string_map(std::string key, std::map<std::string, std::string>& target,
                            std::string doc) {
  m_fields.push_back({std::move(key), "mapping of strings", "{}", std::move(doc),
                      [&target](const YAML::Node& node) -> Result<void> {
                        if (node.IsNull()) {
                          target.clear();
                          return {};
                        }
                        if (!node.IsMap()) {
                          return fail(ErrorCode::config, "expected a mapping of name: value");
                        }
                        std::map<std::string, std::string> values;
                        for (const auto& entry : node) {
                          auto name = scalar(entry.first, "a string name");
                          auto value = scalar(entry.second, "a string value");
                          if (!name || !value) {
                            return fail(name ? std::move(value).error() : std::move(name).error());
                          }
                          values[std::move(*name)] = std::move(*value);
                        }
                        target = std::move(values);
                        return {};
                      }});
}

void Schema::add_integer_impl(std::string key, std::int64_t current, std::int64_t min,
                              std::int64_t max, std::string doc,
                              std::function<void(std::int64_t)> set) {
  m_fields.push_back(
      {std::move(key), "integer", std::to_string(current), std::move(doc),
       [min, max, set = std::move(set)](const YAML::Node& node) -> Result<void> {
         auto text = scalar(node, "an integer");
         if (!text) {
           return fail(std::move(text).error());
         }
         std::int64_t value = 0;
         const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
         if (ec != std::errc() || ptr != text->data() + text->size()) {
           return fail(ErrorCode::config, "expected an integer, got '" + *text + "'");
         }
         if (value < min || value > max) {
           return fail(ErrorCode::config, std::to_string(value) + " is out of range " +
                                              std::to_string(min) + ".." + std::to_string(max));
         }
         set(value);
         return {};
       }});
}

const Field* Schema::find(std::string_view key) const {
  const auto it = std::find_if(m_fields.begin(), m_fields.end(),
                               [key](const Field& f) { return f.key == key; });
  return it == m_fields.end() ? nullptr : &*it;
}

bool Schema::has_section(std::string_view prefix) const {
  return std::any_of(m_fields.begin(), m_fields.end(), [prefix](const Field& f) {
    return f.key.size() > prefix.size() && f.key.compare(0, prefix.size(), prefix) == 0 &&
           f.key[prefix.size()] == '.';
  });
}

std::string Schema::suggestion(std::string_view key) const {
  const Field* best = nullptr;
  std::size_t best_distance = 3;
  for (const auto& field : m_fields) {
    const auto distance = edit_distance(key, field.key);
    if (distance < best_distance) {
      best_distance = distance;
      best = &field;
    }
  }
  return best ? " (did you mean '" + best->key + "'?)" : "";
}

Result<void> Schema::walk(const YAML::Node& map, const std::string& prefix,
                          std::string_view origin) {
  for (const auto& entry : map) {
    const std::string where = position(origin, entry.first.Mark());
    if (!entry.first.IsScalar()) {
      return fail(ErrorCode::config, where + ": keys must be plain names");
    }
    const std::string key =
        prefix.empty() ? entry.first.Scalar() : prefix + "." + entry.first.Scalar();
    if (const Field* field = find(key)) {
      if (auto applied = field->apply(entry.second); !applied) {
        return fail(std::move(applied).error().context(position(origin, entry.second.Mark()) +
                                                       ": key '" + key + "'"));
      }
    } else if (has_section(key)) {
      if (entry.second.IsNull()) {
        continue;
      }
      if (!entry.second.IsMap()) {
        return fail(ErrorCode::config, position(origin, entry.second.Mark()) + ": '" + key +
                                           "' is a section and needs a mapping of keys");
      }
      if (auto nested = walk(entry.second, key, origin); !nested) {
        return nested;
      }
    } else {
      return fail(ErrorCode::config, where + ": unknown key '" + key + "'" + suggestion(key));
    }
  }
  return {};
}

Result<void> Schema::load_text(std::string_view text, std::string_view origin) {
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (root.IsNull()) {
      return {};
    }
    if (!root.IsMap()) {
      return fail(ErrorCode::config,
                  position(origin, root.Mark()) + ": the top level must be a mapping of keys");
    }
    return walk(root, "", origin);
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::config, position(origin, e.mark) + ": " + e.msg);
  }
}

Result<void> Schema::load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::config, errno_text(path.string() + ": cannot open", errno));
  }
  // Read in chunks up to one byte over the bound: a buffer of the whole bound, zero-filled, would
  // make 4 MiB resident for a config of a few KiB (the daemon's peak RSS).
  std::string text;
  constexpr std::size_t k_chunk = 16 * 1024;
  while (in && text.size() <= k_max_config_bytes) {
    const std::size_t at = text.size();
    text.resize(at + std::min(k_chunk, k_max_config_bytes + 1 - at));
    in.read(text.data() + at, static_cast<std::streamsize>(text.size() - at));
    text.resize(at + static_cast<std::size_t>(in.gcount()));
  }
  if (text.size() > k_max_config_bytes) {
    return fail(ErrorCode::config, path.string() + ": larger than the 4 MiB a config may be");
  }
  return load_text(text, path.string());
}

std::string Schema::env_name(std::string_view key) const {
  std::string name = m_env_prefix;
  for (const char c : key) {
    name += (c == '.' || c == '-') ? '_'
                                   : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

Result<void> Schema::load_environment() {
  for (const auto& field : m_fields) {
    const std::string name = env_name(field.key);
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      continue;
    }
    try {
      const YAML::Node node = YAML::Load(value);
      if (auto applied = field.apply(node); !applied) {
        return fail(std::move(applied).error().context("environment " + name));
      }
    } catch (const YAML::Exception& e) {
      return fail(ErrorCode::config, "environment " + name + ": " + e.msg);
    }
  }
  return {};
}

Result<void> Schema::load_override(std::string_view assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string_view::npos) {
    return fail(ErrorCode::config, "--set '" + std::string(assignment) + "': expected key=value");
  }
  const std::string key(assignment.substr(0, equals));
  const Field* field = find(key);
  if (field == nullptr) {
    return fail(ErrorCode::config, "--set: unknown key '" + key + "'" + suggestion(key));
  }
  try {
    const YAML::Node node = YAML::Load(std::string(assignment.substr(equals + 1)));
    if (auto applied = field->apply(node); !applied) {
      return fail(std::move(applied).error().context("--set " + key));
    }
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::config, "--set " + key + ": " + e.msg);
  }
  return {};
}

std::string Schema::describe() const {
  std::ostringstream out;
  for (const auto& field : m_fields) {
    out << "  " << field.key << " (" << field.type << ", default " << field.default_text << ")\n"
        << "      " << field.doc << "\n"
        << "      environment: " << env_name(field.key) << "\n";
  }
  return out.str();
}

} // namespace medic::config
