// SPDX-License-Identifier: Apache-2.0
// A table of configuration keys (type, default, doc) bound to one program's config struct, and
// the loaders that fill it: defaults < YAML file < environment < command line (--set key=value).
// Unknown keys are errors; every error reads "where: key 'x': what is wrong", where `where` is
// file:line:column, an environment variable, or the command-line option.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/records.hpp"
#include "shared/error.hpp"

namespace YAML {
class Node;
}

namespace medic::config {

using StringCheck = std::function<Result<void>(const std::string&)>;

struct Field {
  std::string key;          // dotted path, e.g. "link.endpoint"
  std::string type;         // shown in the key reference
  std::string default_text; // the value before any source applied
  std::string doc;
  std::function<Result<void>(const YAML::Node&)> apply;
};

class Schema {
public:
  // `env_prefix` e.g. "MEDIC_AGENT_": key "link.endpoint" reads MEDIC_AGENT_LINK_ENDPOINT.
  explicit Schema(std::string env_prefix) : m_env_prefix(std::move(env_prefix)) {}

  void add_string(std::string key, std::string& target, std::string doc, StringCheck check = {});
  void add_choice(std::string key, std::string& target, std::vector<std::string> allowed,
                  std::string doc);
  void add_duration(std::string key, std::chrono::milliseconds& target,
                    std::chrono::milliseconds min, std::chrono::milliseconds max, std::string doc);
  void add_size(std::string key, std::uint64_t& target, std::uint64_t min, std::uint64_t max,
                std::string doc);
  void add_bool(std::string key, bool& target, std::string doc);
  void add_string_list(std::string key, std::vector<std::string>& target, std::string doc);
  void add_string_map(std::string key, std::map<std::string, std::string>& target, std::string doc);
  // A list of records (see records.hpp). `apply` receives every record of the list as given
  // (a later source replaces the whole list) and turns them into the program's structs; its
  // errors should come from Record::error so they say which record is wrong.
  void add_records(std::string key, std::vector<RecordField> fields, std::string doc,
                   std::function<Result<void>(const std::vector<Record>&)> apply);

  template <class Integer>
  void add_integer(std::string key, Integer& target, Integer min, Integer max, std::string doc) {
    static_assert(std::numeric_limits<Integer>::is_integer);
    add_integer_impl(std::move(key), static_cast<std::int64_t>(target),
                     static_cast<std::int64_t>(min), static_cast<std::int64_t>(max), std::move(doc),
                     [&target](std::int64_t v) { target = static_cast<Integer>(v); });
  }

  // A missing file, a YAML syntax error, an unknown key or a bad value fails the whole load.
  [[nodiscard]] Result<void> load_file(const std::filesystem::path& path);
  [[nodiscard]] Result<void> load_text(std::string_view text, std::string_view origin);
  // Reads every variable the table names from this process's environment.
  [[nodiscard]] Result<void> load_environment();
  // "key=value" with value in YAML flow syntax: "interval=2s", "labels={role: db}".
  [[nodiscard]] Result<void> load_override(std::string_view assignment);

  [[nodiscard]] std::string env_name(std::string_view key) const;
  // A human reference of every key: name, type, default, doc, environment variable.
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] const std::vector<Field>& fields() const noexcept { return m_fields; }

private:
  void add_integer_impl(std::string key, std::int64_t current, std::int64_t min, std::int64_t max,
                        std::string doc, std::function<void(std::int64_t)> set);
  [[nodiscard]] const Field* find(std::string_view key) const;
  [[nodiscard]] bool has_section(std::string_view prefix) const;
  [[nodiscard]] Result<void> walk(const YAML::Node& map, const std::string& prefix,
                                  std::string_view origin);
  [[nodiscard]] std::string suggestion(std::string_view key) const;

  std::string m_env_prefix;
  std::vector<Field> m_fields;
};

} // namespace medic::config
