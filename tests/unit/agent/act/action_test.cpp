// SPDX-License-Identifier: Apache-2.0
#include "agent/act/action.hpp"

#include <catch2/catch.hpp>

using namespace medic::agent::act;

TEST_CASE("action enums round-trip through their words", "[act][action]") {
  for (const auto kind : {ActionKind::exec, ActionKind::service, ActionKind::signal,
                          ActionKind::clean, ActionKind::http, ActionKind::rollback}) {
    CHECK(parse_action_kind(to_string(kind)) == kind);
  }
  for (const auto risk : {Risk::low, Risk::medium, Risk::high, Risk::critical}) {
    CHECK(parse_risk(to_string(risk)) == risk);
  }
  for (const auto type : {ParamType::string, ParamType::integer, ParamType::enumeration,
                          ParamType::path, ParamType::duration}) {
    CHECK(parse_param_type(to_string(type)) == type);
  }
  CHECK(to_string(ParamType::integer) == "int");
  CHECK(to_string(ParamType::enumeration) == "enum");
  CHECK(to_string(ActionKind::rollback) == "rollback");
  CHECK(to_string(Risk::critical) == "critical");
  CHECK_FALSE(parse_action_kind("shell"));
  CHECK_FALSE(parse_risk("Low"));
  CHECK_FALSE(parse_param_type("integer"));
  CHECK_FALSE(parse_param_type(""));
}

TEST_CASE("bound parameters are found by name", "[act][action]") {
  BoundParams params{{{"unit", "web.service"}, {"pid", "42"}}};
  REQUIRE(params.find("pid") != nullptr);
  CHECK(params.value_or("pid", "") == "42");
  CHECK(params.find("missing") == nullptr);
}
