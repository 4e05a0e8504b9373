// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/labels_json.hpp"

#include <nlohmann/json.hpp>

namespace medic::coordinator::storage {

std::string labels_to_json(std::span<const protocol::Label> labels) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& label : labels) {
    object[label.name] = label.value;
  }
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<protocol::Label> labels_from_json(std::string_view json) {
  std::vector<protocol::Label> labels;
  const auto object = nlohmann::json::parse(json, nullptr, false);
  if (!object.is_object()) {
    return labels;
  }
  for (const auto& [name, value] : object.items()) {
    if (value.is_string()) {
      labels.push_back({name, value.get<std::string>()});
    }
  }
  return labels; // nlohmann's object keeps its keys sorted
}

} // namespace medic::coordinator::storage
