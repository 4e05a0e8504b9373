// SPDX-License-Identifier: Apache-2.0
#include "agent/act/params.hpp"

#include <catch2/catch.hpp>

#include "agent/act/catalog.hpp"

using namespace medic::agent::act;
using medic::protocol::Label;

namespace {

ParamSpec param(std::string name, ParamType type) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  return spec;
}

// An exec action taking the given parameters, prepared as the catalog does it.
Action action_with(std::vector<ParamSpec> params) {
  Action action;
  action.name = "act";
  action.kind = ActionKind::exec;
  action.params = std::move(params);
  action.spec = ExecSpec{{"/bin/true"}, {}, {}, {}, {}, "/", {}};
  REQUIRE(prepare_action(action));
  return action;
}

// The reason binding `value` to the single parameter of `action` fails with ("" if it binds).
std::string reason(const Action& action, std::string value) {
  const std::vector<Label> given = {{action.params.front().name, std::move(value)}};
  auto bound = bind_params(action, given);
  return bound ? std::string() : bound.error().message();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("string values that try shell or option injection are rejected", "[act][params]") {
  const Action action = action_with({param("unit", ParamType::string)});
  CHECK(reason(action, "web.service").empty());
  CHECK(reason(action, "nginx@1:a+b=c,d-e").empty());

  CHECK(contains(reason(action, "; rm -rf /"),
                 "action 'act': parameter 'unit': value \"; rm -rf /\" does not match the "
                 "pattern [A-Za-z0-9][A-Za-z0-9._@:+=,-]*"));
  CHECK(contains(reason(action, "$(id)"), "does not match the pattern"));
  CHECK(contains(reason(action, "`id`"), "value \"`id`\" does not match"));
  CHECK(contains(reason(action, "a b"), "does not match"));
  CHECK(contains(reason(action, "../../etc"), "does not match"));
  CHECK(contains(reason(action, "web|sh"), "does not match"));
  CHECK(contains(reason(action, "--help"), "starts with '-' (it would read as an option)"));
  CHECK(contains(reason(action, "web\nrm"), "value \"web\\x0arm\" contains a newline"));
  CHECK(contains(reason(action, "web\rx"), "contains a carriage return"));
  CHECK(contains(reason(action, "a\tb"), "contains a tab"));
  CHECK(contains(reason(action, std::string("a\0b", 3)), "contains a NUL byte"));
  CHECK(contains(reason(action, "a\x7f"), "contains a DEL character"));
  CHECK(contains(reason(action, "a\x1b[2J"), "contains a control character"));
  CHECK(contains(reason(action, "a\xc2\x85"), "contains a control character"));          // NEL
  CHECK(contains(reason(action, "a\xe2\x80\xa8"), "contains a Unicode line separator")); // U+2028
  CHECK(contains(reason(action, "a\xe2\x80\xae"), "bidirectional override"));            // U+202E
  CHECK(contains(reason(action, "a\xff"), "value \"a\\xff\" is not valid UTF-8 (at byte 1)"));
  CHECK(contains(reason(action, "a\xc0\xaf"), "is not valid UTF-8"));     // overlong '/'
  CHECK(contains(reason(action, "a\xed\xa0\x80"), "is not valid UTF-8")); // surrogate
  CHECK(contains(reason(action, "a\xe2\x82"), "is not valid UTF-8"));     // truncated
  CHECK(contains(reason(action, ""), "parameter 'unit': value is empty"));
}

TEST_CASE("an over-long value is rejected and quoted only cut", "[act][params]") {
  const Action action = action_with({param("unit", ParamType::string)});
  const std::string why = reason(action, std::string(300, 'a'));
  CHECK(contains(why, "is 300 bytes, over the limit of 256"));
  CHECK(contains(why, "\"" + std::string(64, 'a') + "\"..."));
  CHECK_FALSE(contains(why, std::string(65, 'a')));
  // The quote never splits an escape and stays within 64 escaped bytes.
  const std::string quoted = quote_value(std::string(40, '\x01'));
  CHECK(quoted == "\"" + std::string() + [] {
    std::string s;
    for (int i = 0; i < 16; ++i) {
      s += "\\x01";
    }
    return s;
  }() + "\"...");
  CHECK(quote_value("say \"hi\"\\") == "\"say \\x22hi\\x22\\x5c\"");
}

TEST_CASE("declared patterns are full matches and compiled once by the catalog", "[act][params]") {
  ParamSpec spec = param("unit", ParamType::string);
  spec.pattern = "[a-z]+\\.service";
  const Action action = action_with({spec});
  REQUIRE(action.params.front().compiled_pattern != nullptr);
  CHECK(reason(action, "web.service").empty());
  CHECK(
      contains(reason(action, "web.service.evil"), "does not match the pattern [a-z]+\\.service"));
  CHECK(contains(reason(action, "xweb.servicex"), "does not match"));
  // An action that did not go through the catalog still binds (compiling for the call).
  Action raw = action;
  raw.params.front().compiled_pattern.reset();
  CHECK(reason(raw, "web.service").empty());
  CHECK_FALSE(reason(raw, "WEB.service").empty());
}

TEST_CASE("int parameters are canonical decimals within bounds", "[act][params]") {
  ParamSpec spec = param("pid", ParamType::integer);
  spec.min = 2;
  spec.max = 4'194'304;
  const Action action = action_with({spec});
  CHECK(reason(action, "42").empty());
  CHECK(contains(reason(action, "1"), "value \"1\" is below the minimum 2"));
  CHECK(contains(reason(action, "-1"), "is below the minimum 2"));
  CHECK(contains(reason(action, "5000000"), "is above the maximum 4194304"));
  CHECK(contains(reason(action, "0x10"), "is not a decimal integer"));
  CHECK(contains(reason(action, "010"), "is not a decimal integer"));
  CHECK(contains(reason(action, "+5"), "is not a decimal integer"));
  CHECK(contains(reason(action, "5 "), "is not a decimal integer"));
  CHECK(contains(reason(action, "-"), "is not a decimal integer"));
  CHECK(contains(reason(action, "99999999999999999999"), "is not a decimal integer"));
  ParamSpec offset = param("offset", ParamType::integer);
  CHECK(reason(action_with({offset}), "-5").empty()); // negative ints may start with '-'
  CHECK(reason(action_with({offset}), "0").empty());
}

TEST_CASE("enum parameters accept only their values", "[act][params]") {
  ParamSpec spec = param("op", ParamType::enumeration);
  spec.allowed = {"start", "stop"};
  const Action action = action_with({spec});
  CHECK(reason(action, "stop").empty());
  CHECK(contains(reason(action, "restart"), "value \"restart\" is not one of start, stop"));
  CHECK(contains(reason(action, "Stop"), "is not one of"));
}

TEST_CASE("path parameters are absolute, normalised and under base_dir", "[act][params]") {
  ParamSpec spec = param("dir", ParamType::path);
  spec.base_dir = "/var/cache";
  const Action action = action_with({spec});
  CHECK(reason(action, "/var/cache/app").empty());
  CHECK(reason(action, "/var/cache/app/a b").empty());
  CHECK(contains(reason(action, "../../etc"), "value \"../../etc\" is not an absolute path"));
  CHECK(contains(reason(action, "/var/cache/../../etc"), "has a '..' component"));
  CHECK(contains(reason(action, "/var/cache/./x"), "has a '.' component"));
  CHECK(contains(reason(action, "/var/cache//x"), "has an empty component ('//')"));
  CHECK(contains(reason(action, "/var/cache/x/"), "ends with '/'"));
  CHECK(contains(reason(action, "/var/cache"), "is not under /var/cache"));
  CHECK(contains(reason(action, "/var/cachex/y"), "is not under /var/cache"));
  CHECK(contains(reason(action, "/etc/passwd"), "is not under /var/cache"));
  CHECK(contains(reason(action, "-rf"), "starts with '-'"));
  CHECK(contains(reason(action, "/var/cache/a\nb"), "contains a newline"));
  ParamSpec anywhere = param("file", ParamType::path);
  CHECK(reason(action_with({anywhere}), "/etc/hosts").empty());
  CHECK(contains(reason(action_with({anywhere}), "/"), "ends with '/'"));
}

TEST_CASE("duration parameters take units and bounds", "[act][params]") {
  ParamSpec spec = param("for", ParamType::duration);
  spec.min = 1000;
  spec.max = 600'000;
  const Action action = action_with({spec});
  CHECK(reason(action, "30s").empty());
  CHECK(reason(action, "5m").empty());
  CHECK(reason(action, "1500ms").empty());
  CHECK(contains(reason(action, "500ms"), "value \"500ms\" is below the minimum 1s"));
  CHECK(contains(reason(action, "1h"), "is above the maximum 10m"));
  CHECK(contains(reason(action, "30"), "is not a duration like 500ms, 30s or 5m"));
  CHECK(contains(reason(action, "-5s"), "starts with '-'"));
}

TEST_CASE("binding checks names, duplicates, required ones and applies defaults", "[act][params]") {
  ParamSpec unit = param("unit", ParamType::string);
  ParamSpec mode = param("mode", ParamType::enumeration);
  mode.allowed = {"soft", "hard"};
  mode.required = false;
  mode.default_value = "soft";
  ParamSpec note = param("note", ParamType::string);
  note.required = false;
  const Action action = action_with({unit, mode, note});

  auto bound = bind_params(action, std::vector<Label>{{"unit", "web"}});
  REQUIRE(bound);
  CHECK(bound->values ==
        std::vector<std::pair<std::string, std::string>>{{"unit", "web"}, {"mode", "soft"}});
  bound = bind_params(action, std::vector<Label>{{"mode", "hard"}, {"unit", "db"}});
  REQUIRE(bound);
  CHECK(bound->values ==
        std::vector<std::pair<std::string, std::string>>{{"unit", "db"}, {"mode", "hard"}});

  const auto error = [&](std::vector<Label> given) {
    auto result = bind_params(action, given);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == medic::ErrorCode::invalid_argument);
    return result.error().message();
  };
  CHECK(error({}) == "action 'act': parameter 'unit' is required");
  CHECK(error({{"unit", "a"}, {"unit", "b"}}) == "action 'act': parameter 'unit' is given twice");
  CHECK(error({{"unit", "a"}, {"uni\nt", "b"}}) == "action 'act': unknown parameter \"uni\\x0at\"");
  CHECK(error(std::vector<Label>(65, Label{"unit", "a"})) ==
        "action 'act': 65 parameters given, at most 64 allowed");
}

TEST_CASE("templates substitute whole elements only", "[act][params]") {
  const BoundParams params{{{"unit", "web"}, {"path", "a b/c"}, {"dots", ".."}}};
  CHECK(expand_argv({"/bin/systemctl", "restart", "{unit}", "--no-block"}, params) ==
        std::vector<std::string>{"/bin/systemctl", "restart", "web", "--no-block"});
  CHECK(expand_argv({"/bin/echo", "x{unit}", "{unit}y", "{{unit}}", "{missing}", "{}"}, params) ==
        std::vector<std::string>{"/bin/echo", "x{unit}", "{unit}y", "{{unit}}", "{}"});
  CHECK(expand_value("{unit}", params) == "web");
  CHECK(expand_value("{missing}", params).empty());
  CHECK(expand_value("literal {unit}", params) == "literal {unit}");
  CHECK(expand_url_path("/admin/{unit}/reset", params) == "/admin/web/reset");
  CHECK(expand_url_path("/files/{path}", params) == "/files/a%20b%2Fc");
  CHECK(expand_url_path("/x/{dots}", params) == "/x/%2E%2E");
  CHECK(expand_url_path("/pool?x={unit}", params) == "/pool?x={unit}");
  CHECK(param_reference("{pid}") == "pid");
  CHECK_FALSE(param_reference("{}"));
  CHECK_FALSE(param_reference("{a}{b}"));
  CHECK_FALSE(param_reference("pid"));
}
