// SPDX-License-Identifier: Apache-2.0
// The agent config's `actions` key (a list of action records, one per action, flat: the kind's
// own fields sit beside the common ones) and `default_actions` (the shipped catalog, merged under
// the file's). Start-up only (main thread).
#pragma once

#include <string_view>
#include <vector>

#include "agent/act/action.hpp"
#include "agent/act/catalog.hpp"
#include "shared/config/schema.hpp"

namespace medic::agent::act {

struct ActionsConfig {
  std::vector<Action> actions; // as read (each checked alone); after finish_actions: merged
  bool default_actions = true; // merge the shipped catalog (default_catalog_yaml)
};

// Registers `actions` and `default_actions`. Each record is turned into an Action and checked
// alone as it is read (prepare_action), so errors carry file:line:column; a field that does not
// belong to the record's kind is an error naming it.
void add_action_keys(config::Schema& schema, ActionsConfig& config);

// Merges the shipped catalog unless default_actions is false (the file's action of the same name
// wins; the file's actions come first, keeping their indexes for errors) and builds the Catalog
// (cross-references checked there). Finishing twice does not merge twice.
[[nodiscard]] Result<Catalog> finish_actions(ActionsConfig& config);

// The shipped catalog, in the config file's own syntax.
[[nodiscard]] std::string_view default_catalog_yaml();

} // namespace medic::agent::act
