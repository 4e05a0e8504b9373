// SPDX-License-Identifier: Apache-2.0
// Label sets as the JSON objects both backends store them as (agents' HELLO labels, signal and
// log event labels). Any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/message.hpp"

namespace medic::coordinator::storage {

// A JSON object, keys sorted. Duplicate names keep the last value. Invalid UTF-8 is replaced
// rather than thrown on: labels come from the network and must not make a store call throw.
[[nodiscard]] std::string labels_to_json(std::span<const protocol::Label> labels);

// The labels of a JSON object written by labels_to_json, sorted by name. Text that is not such
// an object (a damaged row) yields no labels rather than an error.
[[nodiscard]] std::vector<protocol::Label> labels_from_json(std::string_view json);

} // namespace medic::coordinator::storage
