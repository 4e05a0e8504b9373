// SPDX-License-Identifier: Apache-2.0
#include "agent/act/catalog.hpp"

#include <algorithm>
#include <cmath>

#include <re2/re2.h>

#include "agent/act/catalog_specs.hpp"
#include "agent/act/params.hpp"

namespace medic::agent::act {

namespace {

using namespace std::chrono_literals;

Result<void> check_param_fields(const ParamSpec& spec) {
  const auto misplaced = [&](std::string_view field, std::string_view types) {
    return fail(ErrorCode::config, "'" + std::string(field) + "' applies to " + std::string(types) +
                                       " parameters only");
  };
  if (!spec.allowed.empty() && spec.type != ParamType::enumeration) {
    return misplaced("allowed", "enum");
  }
  if (!spec.pattern.empty() && spec.type != ParamType::string) {
    return misplaced("pattern", "string");
  }
  const bool bounded = spec.type == ParamType::integer || spec.type == ParamType::duration;
  if ((spec.min || spec.max) && !bounded) {
    return misplaced(spec.min ? "min" : "max", "int and duration");
  }
  if (!spec.base_dir.empty() && spec.type != ParamType::path) {
    return misplaced("base_dir", "path");
  }
  return {};
}

Result<void> check_param_rules(ParamSpec& spec) {
  if (spec.max_length == 0 || spec.max_length > k_max_param_length) {
    return fail(ErrorCode::config, "max_length must be 1 to " + std::to_string(k_max_param_length));
  }
  if (spec.type == ParamType::enumeration && spec.allowed.empty()) {
    return fail(ErrorCode::config, "an enum parameter needs 'allowed' values");
  }
  if (spec.min && spec.max && *spec.min > *spec.max) {
    return fail(ErrorCode::config, "min is above max");
  }
  if (spec.type == ParamType::duration && spec.min && *spec.min < 0) {
    return fail(ErrorCode::config, "a duration's min cannot be negative");
  }
  if (!spec.base_dir.empty()) {
    if (auto base = check_absolute("base_dir", spec.base_dir, RootAllowed::yes); !base) {
      return base;
    }
  }
  if (spec.type == ParamType::string) {
    auto compiled = compile_pattern(spec);
    if (!compiled) {
      return fail(std::move(compiled).error());
    }
    spec.compiled_pattern = std::move(*compiled);
  }
  for (const auto& allowed : spec.allowed) {
    if (auto checked = check_value(spec, allowed); !checked) {
      return fail(Error(checked.error()).context("allowed"));
    }
  }
  return {};
}

Result<void> prepare_param(ParamSpec& spec) {
  if (!is_param_name(spec.name)) {
    return fail(ErrorCode::config, "parameter name " + quote_value(spec.name) +
                                       " must be a letter or '_' then letters, digits, '_' (at "
                                       "most 64)");
  }
  auto checked = check_param_fields(spec).and_then([&] { return check_param_rules(spec); });
  if (checked && spec.default_value) {
    if (spec.required) {
      checked = fail(ErrorCode::config, "a parameter with a default cannot be required");
    } else if (auto value = check_value(spec, *spec.default_value); !value) {
      checked = fail(Error(value.error()).context("default"));
    }
  }
  if (!checked) {
    return fail(std::move(checked).error().context("parameter '" + spec.name + "'"));
  }
  return {};
}

Result<void> check_action_bounds(const Action& action) {
  if (!is_action_name(action.name)) {
    return fail(ErrorCode::config,
                "the name must be a letter or digit then letters, digits, "
                "'.', '_', '-' (at most 64)");
  }
  if (action.timeout <= 0ms || action.timeout > k_max_timeout) {
    return fail(ErrorCode::config, "timeout must be above 0 and at most 24h");
  }
  if (action.cooldown < 0ms) {
    return fail(ErrorCode::config, "cooldown cannot be negative");
  }
  if (!(action.expected_success >= 0 && action.expected_success <= 1)) {
    return fail(ErrorCode::config, "expected_success must be between 0 and 1");
  }
  if (action.kind != static_cast<ActionKind>(action.spec.index())) {
    return fail(ErrorCode::config,
                "the kind spec does not match kind " + std::string(to_string(action.kind)));
  }
  if (action.diagnostic && action.kind != ActionKind::exec) {
    return fail(ErrorCode::config,
                "a diagnostic action must be of kind exec (a read-only "
                "command)");
  }
  if (action.params.size() > k_max_params) {
    return fail(ErrorCode::config, "at most " + std::to_string(k_max_params) + " parameters");
  }
  return {};
}

Result<void> check_follow_ups(const Action& action) {
  if (const auto& post = action.post_condition) {
    if (post->target.empty()) {
      return fail(ErrorCode::config, "post_condition: target is required");
    }
    if (post->within <= 0ms) {
      return fail(ErrorCode::config, "post_condition: within must be above 0");
    }
  }
  if (const auto& temporary = action.temporary) {
    const bool valid = !temporary->undo_action.empty() && temporary->duration > 0ms &&
                       std::isfinite(temporary->factor) && temporary->factor >= 1 &&
                       temporary->max_duration >= temporary->duration &&
                       temporary->forget_after > 0ms;
    if (!valid) {
      return fail(ErrorCode::config,
                  "temporary: needs undo, a duration above 0, factor >= 1, "
                  "max_duration >= duration and forget_after above 0");
    }
  }
  return {};
}

// `other` runs with `action`'s parameters: each one it requires must be declared by `action`.
Result<void> check_reference(const Action& action, std::string_view field, const std::string& name,
                             const Catalog& catalog) {
  if (name.empty()) {
    return {};
  }
  const Action* other = catalog.find(name);
  if (other == nullptr) {
    return fail(ErrorCode::config, std::string(field) + " names action '" + name +
                                       "', which the catalog does not define");
  }
  if (other == &action) {
    return fail(ErrorCode::config, std::string(field) + " names the action itself");
  }
  for (const auto& param : other->params) {
    const bool declared = std::any_of(action.params.begin(), action.params.end(),
                                      [&](const ParamSpec& p) { return p.name == param.name; });
    if (param.required && !declared) {
      return fail(ErrorCode::config, std::string(field) + " action '" + name +
                                         "' requires parameter '" + param.name +
                                         "', which this action does not declare");
    }
  }
  return {};
}

// "actions[3] 'restart-web'"; a name that is not a valid one is quoted escaped instead.
std::string action_where(std::size_t index, const Action& action) {
  return "actions[" + std::to_string(index) + "] " +
         (is_action_name(action.name) ? "'" + action.name + "'" : quote_value(action.name));
}

} // namespace

Result<void> prepare_action(Action& action) {
  if (auto bounds = check_action_bounds(action); !bounds) {
    return bounds;
  }
  for (std::size_t i = 0; i < action.params.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (action.params[j].name == action.params[i].name) {
        return fail(ErrorCode::config,
                    "parameter '" + action.params[i].name + "' is declared twice");
      }
    }
    if (auto param = prepare_param(action.params[i]); !param) {
      return param;
    }
  }
  if (auto follow = check_follow_ups(action); !follow) {
    return follow;
  }
  return check_kind_spec(action);
}

Result<Catalog> Catalog::build(std::vector<Action> actions) {
  if (actions.size() > k_max_actions) {
    return fail(ErrorCode::config, "the catalog has " + std::to_string(actions.size()) +
                                       " actions, at most " + std::to_string(k_max_actions));
  }
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (auto prepared = prepare_action(actions[i]); !prepared) {
      return fail(std::move(prepared).error().context(action_where(i, actions[i])));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (actions[j].name == actions[i].name) {
        return fail(ErrorCode::config, action_where(i, actions[i]) +
                                           ": the name is already used by actions[" +
                                           std::to_string(j) + "]");
      }
    }
  }
  Catalog catalog(std::move(actions));
  for (std::size_t i = 0; i < catalog.m_actions.size(); ++i) {
    const Action& action = catalog.m_actions[i];
    auto checked = check_reference(action, "rollback", action.rollback, catalog);
    if (checked && action.temporary) {
      checked = check_reference(action, "temporary.undo", action.temporary->undo_action, catalog);
    }
    if (!checked) {
      return fail(std::move(checked).error().context(action_where(i, action)));
    }
  }
  return catalog;
}

const Action* Catalog::find(std::string_view name) const noexcept {
  for (const auto& action : m_actions) {
    if (action.name == name) {
      return &action;
    }
  }
  return nullptr;
}

std::vector<protocol::ActionSchema> Catalog::schemas() const {
  std::vector<protocol::ActionSchema> schemas;
  schemas.reserve(m_actions.size());
  for (const auto& action : m_actions) {
    protocol::ActionSchema schema{action.name, std::string(to_string(action.risk)), {}};
    for (const auto& param : action.params) {
      std::string pattern;
      if (param.type == ParamType::string) {
        pattern = param.pattern.empty() ? std::string(k_default_string_pattern) : param.pattern;
      }
      schema.params.push_back({param.name, std::string(to_string(param.type)),
                               param.required && !param.default_value, param.allowed,
                               std::move(pattern), param.min, param.max});
    }
    schemas.push_back(std::move(schema));
  }
  return schemas;
}

} // namespace medic::agent::act
