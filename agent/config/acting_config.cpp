// SPDX-License-Identifier: Apache-2.0
#include "agent/config/acting_config.hpp"

#include "agent/heal/label_template.hpp"
#include "shared/config/records.hpp"

namespace medic::agent::config {

namespace {

using medic::config::FieldKind;
using medic::config::Record;
using medic::config::RecordField;

std::vector<RecordField> diagnostic_fields() {
  return {
      {"on_rule", FieldKind::text, true, "the detector or log rule whose firing runs them", {}},
      {"actions", FieldKind::text_list, true, "catalog actions marked `diagnostic: true`", {}},
      {"params",
       FieldKind::text_map,
       false,
       "parameters; {label:NAME} inserts the firing signal's label",
       {}},
  };
}

Result<DiagnosticHook> diagnostic_hook(const Record& record) {
  DiagnosticHook hook{record.text("on_rule"), record.text_list("actions"),
                      record.text_map("params")};
  if (hook.actions.empty()) {
    return fail(record.error("actions: name at least one diagnostic action"));
  }
  for (const auto& [name, templ] : hook.params) {
    if (auto checked = heal::check_label_template(templ); !checked) {
      return fail(record.error("params." + name + ": " + checked.error().message()));
    }
  }
  return hook;
}

} // namespace

void add_acting_keys(medic::config::Schema& schema, ActingConfig& config) {
  act::add_action_keys(schema, config.actions);
  heal::add_heal_keys(schema, config.heal);
  schema.add_records("diagnostics", diagnostic_fields(),
                     "Diagnostic actions run when a rule fires; their output is sent as evidence",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       config.diagnostics.clear();
                       for (const auto& record : records) {
                         auto hook = diagnostic_hook(record);
                         if (!hook) {
                           return fail(std::move(hook).error());
                         }
                         config.diagnostics.push_back(std::move(*hook));
                       }
                       return {};
                     });
  schema.add_integer("actions_limits.max_concurrent", config.max_concurrent, std::uint32_t{1},
                     std::uint32_t{64}, "Actions running at once");
  schema.add_integer("actions_limits.max_queued", config.max_queued, std::uint32_t{1},
                     std::uint32_t{1024}, "Actions waiting for a slot; more are refused");
  schema.add_duration("actions_limits.kill_grace", config.kill_grace,
                      std::chrono::milliseconds(100), std::chrono::minutes(5),
                      "After an action's timeout: SIGTERM to its process group, SIGKILL after "
                      "this");
  schema.add_bool("dry_run", config.dry_run,
                  "Decide and record every action (commands and fallback healing), run none");
}

Result<void> finish_acting(ActingConfig& config) {
  auto catalog = act::finish_actions(config.actions);
  if (!catalog) {
    return fail(std::move(catalog).error().context("actions"));
  }
  auto shared = std::make_shared<const act::Catalog>(std::move(*catalog));
  if (auto checked = heal::check_heal_rules(
          config.heal, [&shared](std::string_view name) { return shared->find(name) != nullptr; });
      !checked) {
    return checked;
  }
  for (std::size_t i = 0; i < config.diagnostics.size(); ++i) {
    for (const auto& name : config.diagnostics[i].actions) {
      const act::Action* action = shared->find(name);
      const std::string where = "diagnostics[" + std::to_string(i) + "].actions: '" + name + "'";
      if (action == nullptr) {
        return fail(ErrorCode::config, where + " is not in the action catalog");
      }
      if (!action->diagnostic) {
        return fail(ErrorCode::config,
                    where +
                        " is not marked `diagnostic: true` (only read-only actions may run "
                        "as diagnostics)");
      }
    }
  }
  config.heal.dry_run = config.heal.dry_run || config.dry_run;
  config.catalog = std::move(shared);
  return {};
}

} // namespace medic::agent::config
