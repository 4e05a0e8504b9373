// SPDX-License-Identifier: Apache-2.0
// Reads the rule file: `rules:` → Rule trees. A child starts from a copy of its parent's
// conclusion (root cause, causes, confidence, automation, actions) and overrides what it gives.
#include "coordinator/diagnose/rule_loader.hpp"

#include <algorithm>
#include <fstream>

#include <yaml-cpp/yaml.h>

#include "coordinator/diagnose/rule_set.hpp"

namespace medic::coordinator::diagnose {

namespace {

using detail::LoadContext;

constexpr std::size_t k_max_file_bytes = 4 << 20;
constexpr std::size_t k_max_rules = 10'000;
constexpr std::size_t k_max_id_bytes = 128;

// What reading one file needs beyond the position: the ids seen, and the tree size.
struct Reader {
  std::string_view origin;
  std::vector<std::string> ids;

  Result<Rule> rule(const YAML::Node& node, const Rule* parent, std::size_t depth);
  Result<void> rule_id(const YAML::Node& node, LoadContext& context);
  Result<void> field(const std::string& key, const YAML::Node& value, const LoadContext& context,
                     Rule& rule, std::size_t depth);
  Result<void> children(const YAML::Node& node, const LoadContext& context, Rule& rule,
                        std::size_t depth);
  enum class Pass : std::uint8_t { conclusion, children };
  Result<void> fields(const YAML::Node& node, const LoadContext& context, Rule& rule,
                      std::size_t depth, Pass pass);
};

bool valid_id(std::string_view id) {
  const auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ':';
  };
  return !id.empty() && id.size() <= k_max_id_bytes && id[0] != '-' && id[0] != '.' &&
         std::all_of(id.begin(), id.end(), ok);
}

Result<ParamTemplate> read_param(const YAML::Node& name, const YAML::Node& value,
                                 const LoadContext& context) {
  auto key = detail::read_text(name, context, "a parameter name");
  auto text = detail::read_text(value, context, "parameter " + name.Scalar());
  if (!key || !text) {
    return fail(!key ? std::move(key).error() : std::move(text).error());
  }
  auto pieces = detail::compile_template(*text);
  if (!pieces) {
    return fail(context.error(value, "parameter " + *key + ": " + pieces.error().message()));
  }
  return ParamTemplate{std::move(*key), std::move(*text), std::move(*pieces)};
}

Result<void> read_action_field(const std::string& key, const YAML::Node& value,
                               const LoadContext& context, ActionTemplate& action) {
  if (key == "action" || key == "risk") {
    auto text = detail::read_text(value, context, key);
    if (!text) {
      return fail(std::move(text).error());
    }
    if (key == "risk" && *text != "low" && *text != "medium" && *text != "high" &&
        *text != "critical") {
      return fail(context.error(value, "risk must be low, medium, high or critical"));
    }
    (key == "action" ? action.action : action.risk) = std::move(*text);
    return {};
  }
  if (key == "params") {
    if (!value.IsMap()) {
      return fail(context.error(value, "params must be a mapping {name: value}"));
    }
    for (const auto& entry : value) {
      auto param = read_param(entry.first, entry.second, context);
      if (!param) {
        return fail(std::move(param).error());
      }
      action.params.push_back(std::move(*param));
    }
    return {};
  }
  auto number = detail::read_number(value, context, key);
  if (!number) {
    return fail(std::move(number).error());
  }
  const bool rate = key == "success_rate";
  if (rate ? (*number < 0 || *number > 1) : (*number <= 0 || *number > 1e6)) {
    return fail(context.error(value, rate ? "success_rate must be in 0..1"
                                          : "prior_weight must be above 0 (pseudo-attempts)"));
  }
  (rate ? action.success_rate : action.prior_weight) = *number;
  return {};
}

Result<std::vector<ActionTemplate>> read_actions(const YAML::Node& node,
                                                 const LoadContext& context) {
  if (!node.IsSequence()) {
    return fail(context.error(node, "actions must be a list of {action, params, ...}"));
  }
  std::vector<ActionTemplate> actions;
  for (const auto& item : node) {
    if (auto keys = detail::check_keys(
            item, {"action", "params", "success_rate", "prior_weight", "risk"}, context, "actions");
        !keys) {
      return fail(std::move(keys).error());
    }
    ActionTemplate action;
    for (const auto& entry : item) {
      if (auto done = read_action_field(entry.first.Scalar(), entry.second, context, action);
          !done) {
        return fail(std::move(done).error());
      }
    }
    if (!valid_id(action.action)) {
      return fail(context.error(item, "each action needs `action:`, a catalog action name"));
    }
    actions.push_back(std::move(action));
  }
  return actions;
}

Result<void> read_conclusion(const std::string& key, const YAML::Node& value,
                             const LoadContext& context, Rule& rule) {
  if (key == "root_cause") {
    auto text = detail::read_text(value, context, key);
    if (text && !valid_id(*text)) {
      return fail(context.error(value, "root_cause must be a label like crashed-service"));
    }
    return text ? (rule.root_cause = std::move(*text), Result<void>()) : fail(text.error());
  }
  if (key == "causes") {
    auto causes = detail::read_text_list(value, context, key);
    return causes ? (rule.causes = std::move(*causes), Result<void>()) : fail(causes.error());
  }
  if (key == "confidence") {
    auto number = detail::read_number(value, context, key);
    if (number && (*number < 0 || *number > 1)) {
      return fail(context.error(value, "confidence must be in 0..1"));
    }
    return number ? (rule.confidence = *number, Result<void>()) : fail(number.error());
  }
  auto text = detail::read_text(value, context, key);
  if (!text) {
    return fail(std::move(text).error());
  }
  const auto automation = parse_automation(*text);
  if (!automation) {
    return fail(context.error(value, "automation must be observe, approve or auto"));
  }
  rule.automation = *automation;
  return {};
}

Rule inherit(const Rule& parent) {
  Rule rule;
  rule.root_cause = parent.root_cause;
  rule.causes = parent.causes;
  rule.confidence = parent.confidence;
  rule.automation = parent.automation;
  rule.actions = parent.actions;
  return rule;
}

Result<void> Reader::rule_id(const YAML::Node& node, LoadContext& context) {
  for (const auto& entry : node) {
    if (entry.first.IsScalar() && entry.first.Scalar() == "id") {
      auto id = detail::read_text(entry.second, context, "id");
      if (!id) {
        return fail(std::move(id).error());
      }
      if (!valid_id(*id) || *id == k_needs_review) {
        return fail(context.error(entry.second, "id '" + *id +
                                                    "' must be letters, digits, '.', '_', '-', "
                                                    "':' (at most 128) and not needs-review"));
      }
      if (std::find(ids.begin(), ids.end(), *id) != ids.end()) {
        return fail(context.error(entry.second, "rule id '" + *id + "' is used twice"));
      }
      ids.push_back(*id);
      context.rule_id = std::move(*id);
      return {};
    }
  }
  return fail(context.error(node, "every rule needs an `id`"));
}

Result<void> Reader::children(const YAML::Node& node, const LoadContext& context, Rule& rule,
                              std::size_t depth) {
  if (!node.IsSequence()) {
    return fail(context.error(node, "then must be a list of rules"));
  }
  if (depth + 1 >= k_max_rule_depth) {
    return fail(context.error(
        node, "rules nest at most " + std::to_string(k_max_rule_depth) + " levels deep"));
  }
  for (const auto& item : node) {
    auto child = this->rule(item, &rule, depth + 1);
    if (!child) {
      return fail(std::move(child).error());
    }
    rule.then.push_back(std::move(*child));
  }
  return {};
}

Result<void> Reader::field(const std::string& key, const YAML::Node& value,
                           const LoadContext& context, Rule& rule, std::size_t depth) {
  if (key == "id" || key == "description") {
    return {};
  }
  if (key == "when") {
    auto when = detail::read_conditions(value, context);
    return when ? (rule.when = std::move(*when), Result<void>()) : fail(when.error());
  }
  if (key == "actions") {
    auto actions = read_actions(value, context);
    return actions ? (rule.actions = std::move(*actions), Result<void>()) : fail(actions.error());
  }
  if (key == "then") {
    return children(value, context, rule, depth);
  }
  return read_conclusion(key, value, context, rule);
}

Result<void> Reader::fields(const YAML::Node& node, const LoadContext& context, Rule& rule,
                            std::size_t depth, Pass pass) {
  for (const auto& entry : node) {
    if ((entry.first.Scalar() == "then") == (pass == Pass::children)) {
      if (auto done = field(entry.first.Scalar(), entry.second, context, rule, depth); !done) {
        return done;
      }
    }
  }
  return {};
}

Result<Rule> Reader::rule(const YAML::Node& node, const Rule* parent, std::size_t depth) {
  LoadContext context{origin, {}};
  if (!node.IsMap()) {
    return fail(context.error(node, "a rule must be a mapping with an `id`"));
  }
  // The id first, so every later error names the rule.
  if (auto id = rule_id(node, context); !id) {
    return fail(std::move(id).error());
  }
  if (auto keys = detail::check_keys(node,
                                     {"id", "description", "when", "root_cause", "causes",
                                      "confidence", "automation", "actions", "then"},
                                     context, "a rule");
      !keys) {
    return fail(std::move(keys).error());
  }
  if (ids.size() > k_max_rules) {
    return fail(
        context.error(node, "a rule file holds at most " + std::to_string(k_max_rules) + " rules"));
  }
  Rule rule = parent != nullptr ? inherit(*parent) : Rule{};
  rule.id = context.rule_id;
  rule.where = context.position(node);
  // `then` is read last so children inherit the conclusion whatever the key order.
  if (auto done = fields(node, context, rule, depth, Pass::conclusion); !done) {
    return fail(std::move(done).error());
  }
  if (rule.root_cause.empty()) {
    rule.root_cause = rule.id;
  }
  if (auto done = fields(node, context, rule, depth, Pass::children); !done) {
    return fail(std::move(done).error());
  }
  return rule;
}

std::size_t count_rules(const std::vector<Rule>& rules) {
  std::size_t count = rules.size();
  for (const auto& rule : rules) {
    count += count_rules(rule.then);
  }
  return count;
}

} // namespace

std::size_t RuleSet::size() const noexcept {
  return count_rules(m_rules);
}

Result<RuleSet> load_rules_text(std::string_view text, std::string_view origin) {
  const LoadContext context{origin, {}};
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (auto keys = detail::check_keys(root, {"rules"}, context, "the top level"); !keys) {
      return fail(std::move(keys).error());
    }
    const YAML::Node list = root["rules"];
    if (!list || !list.IsSequence()) {
      return fail(context.error(list ? list : root, "`rules:` must be a list of rules"));
    }
    Reader reader{origin, {}};
    std::vector<Rule> rules;
    for (const auto& item : list) {
      auto rule = reader.rule(item, nullptr, 0);
      if (!rule) {
        return fail(std::move(rule).error());
      }
      rules.push_back(std::move(*rule));
    }
    return RuleSet(std::move(rules), std::string(origin));
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::config, std::string(origin) + ":" + std::to_string(e.mark.line + 1) +
                                       ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<RuleSet> load_rules_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::config, errno_text(path.string() + ": cannot open", errno));
  }
  std::string text(k_max_file_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > k_max_file_bytes) {
    return fail(ErrorCode::config, path.string() + ": larger than the 4 MiB a rule file may be");
  }
  return load_rules_text(text, path.string());
}

} // namespace medic::coordinator::diagnose
