// SPDX-License-Identifier: Apache-2.0
// Internals of the rule file reader shared by rule_loader.cpp (rules, conclusions, actions) and
// condition_loader.cpp (`when:`). Every error names origin:line:column and the rule.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/diagnose/rule.hpp"
#include "shared/error.hpp"

namespace YAML {
class Node;
}

namespace medic::coordinator::diagnose::detail {

struct LoadContext {
  std::string_view origin;
  std::string rule_id; // the rule being read; '' until its id is known

  // "origin:line:column" of `node`.
  [[nodiscard]] std::string position(const YAML::Node& node) const;
  // "origin:line:column: rule 'id': message" at `node`'s position.
  [[nodiscard]] Error error(const YAML::Node& node, std::string_view message) const;
};

[[nodiscard]] Result<std::string> read_text(const YAML::Node& node, const LoadContext& context,
                                            std::string_view what);
// A scalar or a list of scalars (a single value reads as a list of one); never empty.
[[nodiscard]] Result<std::vector<std::string>> read_text_list(const YAML::Node& node,
                                                              const LoadContext& context,
                                                              std::string_view what);
[[nodiscard]] Result<double> read_number(const YAML::Node& node, const LoadContext& context,
                                         std::string_view what);
[[nodiscard]] Result<std::uint32_t> read_count(const YAML::Node& node, const LoadContext& context,
                                               std::string_view what);
// Milliseconds of a duration such as "30m" (shared/config/units.hpp).
[[nodiscard]] Result<std::int64_t> read_duration(const YAML::Node& node, const LoadContext& context,
                                                 std::string_view what);

// Fails on a non-mapping, a non-scalar key, a key given twice, or a key not in `known` (with
// a suggestion when one is close).
[[nodiscard]] Result<void> check_keys(const YAML::Node& map,
                                      const std::vector<std::string_view>& known,
                                      const LoadContext& context, std::string_view what);

[[nodiscard]] Result<Conditions> read_conditions(const YAML::Node& when,
                                                 const LoadContext& context);

// "{label:unit|process}", "{service}", "{host}", "{agent}", "{{", "}}" and literal text.
[[nodiscard]] Result<std::vector<TemplatePiece>> compile_template(std::string_view text);

} // namespace medic::coordinator::diagnose::detail
