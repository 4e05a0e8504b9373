// SPDX-License-Identifier: Apache-2.0
#include "agent/act/catalog.hpp"

#include <catch2/catch.hpp>

using namespace medic::agent::act;
using namespace std::chrono_literals;

namespace {

Action exec_action(std::string name, std::vector<std::string> argv = {"/bin/true"}) {
  Action action;
  action.name = std::move(name);
  action.kind = ActionKind::exec;
  action.spec = ExecSpec{std::move(argv), {}, {}, {}, {}, "/", {}};
  return action;
}

ParamSpec param(std::string name, ParamType type) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  return spec;
}

template <class Spec>
Action kind_action(ActionKind kind, Spec spec, std::vector<ParamSpec> params = {}) {
  Action action;
  action.name = "a";
  action.kind = kind;
  action.spec = std::move(spec);
  action.params = std::move(params);
  return action;
}

ServiceSpec service(std::string unit, std::string operation = "restart") {
  ServiceSpec spec;
  spec.unit = std::move(unit);
  spec.operation = std::move(operation);
  return spec;
}

CleanSpec clean(std::string directory, std::chrono::milliseconds older_than = {},
                std::string name_glob = {}) {
  CleanSpec spec;
  spec.directory = std::move(directory);
  spec.older_than = older_than;
  spec.name_glob = std::move(name_glob);
  return spec;
}

HttpSpec http(std::string method, std::string host, std::uint16_t port, std::string path) {
  HttpSpec spec;
  spec.method = std::move(method);
  spec.host = std::move(host);
  spec.port = port;
  spec.path = std::move(path);
  return spec;
}

// The error prepare_action gives ("" when the action is fine).
std::string problem(Action action) {
  auto prepared = prepare_action(action);
  return prepared ? std::string() : prepared.error().message();
}

std::string build_error(std::vector<Action> actions) {
  auto catalog = Catalog::build(std::move(actions));
  REQUIRE_FALSE(catalog);
  return catalog.error().message();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("a catalog finds its actions and lists their schemas", "[act][catalog]") {
  Action restart = exec_action("restart-web", {"/bin/systemctl", "restart", "{unit}"});
  restart.risk = Risk::low;
  restart.params.push_back(param("unit", ParamType::string));
  ParamSpec mode = param("mode", ParamType::enumeration);
  mode.allowed = {"soft", "hard"};
  mode.required = false;
  mode.default_value = "soft";
  restart.params.push_back(mode);
  ParamSpec wait = param("wait", ParamType::duration);
  wait.min = 1000;
  wait.max = 60'000;
  wait.required = false;
  restart.params.push_back(wait);
  ParamSpec tag = param("tag", ParamType::string);
  tag.pattern = "[a-z]+";
  restart.params.push_back(tag);

  auto catalog = Catalog::build({restart, exec_action("noop")});
  REQUIRE(catalog);
  REQUIRE(catalog->find("noop") != nullptr);
  CHECK(catalog->find("noop")->name == "noop");
  CHECK(catalog->find("nope") == nullptr);
  CHECK(catalog->actions().size() == 2);
  CHECK(catalog->find("restart-web")->params[0].compiled_pattern != nullptr);

  const auto schemas = catalog->schemas();
  REQUIRE(schemas.size() == 2);
  CHECK(schemas[0].name == "restart-web");
  CHECK(schemas[0].risk == "low");
  REQUIRE(schemas[0].params.size() == 4);
  const medic::protocol::ParamSchema unit{
      "unit", "string", true, {}, "[A-Za-z0-9][A-Za-z0-9._@:+=,-]*", std::nullopt, std::nullopt};
  CHECK(schemas[0].params[0] == unit);
  CHECK(schemas[0].params[1] ==
        medic::protocol::ParamSchema{"mode", "enum", false, {"soft", "hard"}, "", {}, {}});
  CHECK(schemas[0].params[2] ==
        medic::protocol::ParamSchema{"wait", "duration", false, {}, "", 1000, 60'000});
  CHECK(schemas[0].params[3].pattern == "[a-z]+");
  CHECK(schemas[1].risk == "medium");
  CHECK(schemas[1].params.empty());
}

TEST_CASE("catalog cross-references are checked", "[act][catalog]") {
  Action undo = exec_action("unblock", {"/bin/true", "{ip}"});
  undo.params.push_back(param("ip", ParamType::string));
  Action block = exec_action("block", {"/bin/true", "{ip}"});
  block.params.push_back(param("ip", ParamType::string));
  block.temporary = TemporarySpec{"unblock", 10min, 2, 1h, 24h};
  block.rollback = "unblock";
  CHECK(Catalog::build({block, undo}));

  CHECK(build_error({block}) ==
        "actions[0] 'block': rollback names action 'unblock', which "
        "the catalog does not define");
  Action self = block;
  self.rollback = "block";
  CHECK(build_error({self, undo}) == "actions[0] 'block': rollback names the action itself");
  Action no_undo = block;
  no_undo.rollback.clear();
  no_undo.temporary->undo_action = "unblok";
  CHECK(contains(build_error({no_undo, undo}), "temporary.undo names action 'unblok'"));
  Action without_ip = exec_action("block");
  without_ip.rollback = "unblock";
  CHECK(build_error({without_ip, undo}) ==
        "actions[0] 'block': rollback action 'unblock' requires parameter 'ip', which this "
        "action does not declare");
  CHECK(build_error({exec_action("a"), exec_action("b"), exec_action("a")}) ==
        "actions[2] 'a': the name is already used by actions[0]");
  CHECK(build_error({exec_action("ok"), exec_action("bad", {"/bin/x", "{nope}"})}) ==
        "actions[1] 'bad': argv: '{nope}' names no declared parameter");
  CHECK(build_error({exec_action("bad name")}).starts_with("actions[0] \"bad name\": the name"));
  CHECK(contains(build_error(std::vector<Action>(1025, exec_action("x"))),
                 "1025 actions, at most 1024"));
}

TEST_CASE("parameter declarations are checked", "[act][catalog]") {
  const auto with = [](ParamSpec spec) {
    Action action = exec_action("a");
    action.params.push_back(std::move(spec));
    return problem(action);
  };
  ParamSpec bad_pattern = param("p", ParamType::string);
  bad_pattern.pattern = "([a-z";
  CHECK(contains(with(bad_pattern), "parameter 'p': pattern '([a-z' does not compile"));
  ParamSpec empty_enum = param("p", ParamType::enumeration);
  CHECK(with(empty_enum) == "parameter 'p': an enum parameter needs 'allowed' values");
  ParamSpec dash_enum = param("p", ParamType::enumeration);
  dash_enum.allowed = {"ok", "-rf"};
  CHECK(contains(with(dash_enum), "parameter 'p': allowed: value \"-rf\" starts with '-'"));
  ParamSpec misplaced = param("p", ParamType::string);
  misplaced.min = 1;
  CHECK(with(misplaced) == "parameter 'p': 'min' applies to int and duration parameters only");
  ParamSpec inverted = param("p", ParamType::integer);
  inverted.min = 5;
  inverted.max = 1;
  CHECK(with(inverted) == "parameter 'p': min is above max");
  ParamSpec required_default = param("p", ParamType::integer);
  required_default.default_value = "5";
  CHECK(with(required_default) == "parameter 'p': a parameter with a default cannot be required");
  ParamSpec bad_default = param("p", ParamType::integer);
  bad_default.required = false;
  bad_default.default_value = "five";
  CHECK(with(bad_default) == "parameter 'p': default: value \"five\" is not a decimal integer");
  ParamSpec relative_base = param("p", ParamType::path);
  relative_base.base_dir = "var/x";
  CHECK(contains(with(relative_base), "base_dir: value \"var/x\" is not an absolute path"));
  CHECK(contains(with(param("9p", ParamType::string)), "parameter name \"9p\" must be"));
  Action twice = exec_action("a");
  twice.params = {param("p", ParamType::string), param("p", ParamType::integer)};
  CHECK(problem(twice) == "parameter 'p' is declared twice");
}

TEST_CASE("kind specs are checked", "[act][catalog]") {
  CHECK(contains(problem(exec_action("a", {"bin/true"})),
                 "argv: value \"bin/true\" is not an "
                 "absolute path"));
  CHECK(problem(exec_action("a", {})) == "argv: needs at least the program");
  Action program_param = exec_action("a", {"{prog}"});
  program_param.params.push_back(param("prog", ParamType::path));
  CHECK(problem(program_param) == "argv: the program (first element) must be a literal path");
  Action sha = exec_action("a");
  std::get<ExecSpec>(sha.spec).sha256 = "abc";
  CHECK(problem(sha) == "sha256: must be 64 hexadecimal digits");
  std::get<ExecSpec>(sha.spec).sha256 = std::string(64, 'A');
  REQUIRE(prepare_action(sha));
  CHECK(std::get<ExecSpec>(sha.spec).sha256 == std::string(64, 'a'));
  Action env = exec_action("a");
  std::get<ExecSpec>(env.spec).env_set = {{"BAD NAME", "x"}};
  CHECK(contains(problem(env), "env: \"BAD NAME\" is not a variable name"));
  Action mismatch = exec_action("a");
  mismatch.kind = ActionKind::service;
  CHECK(problem(mismatch) == "the kind spec does not match kind service");
  Action diagnostic = kind_action(ActionKind::service, service("web.service"));
  diagnostic.diagnostic = true;
  CHECK(contains(problem(diagnostic), "a diagnostic action must be of kind exec"));
  Action timeout = exec_action("a");
  timeout.timeout = 0ms;
  CHECK(problem(timeout) == "timeout must be above 0 and at most 24h");

  CHECK(problem(kind_action(ActionKind::service, service("web.service"))).empty());
  CHECK(problem(kind_action(ActionKind::service, service("web;x"))) == "unit: not a unit name");
  CHECK(problem(kind_action(ActionKind::service, service("web", "kill"))) ==
        "operation: must be start, stop, restart or reload");
  ParamSpec op = param("op", ParamType::enumeration);
  op.allowed = {"restart", "mask"};
  CHECK(contains(problem(kind_action(ActionKind::service, service("web", "{op}"), {op})),
                 "operation: parameter 'op' must be an enum of start, stop, restart, reload"));
  CHECK(contains(problem(kind_action(ActionKind::service, service("{unit}"),
                                     {param("unit", ParamType::integer)})),
                 "unit: parameter 'unit' has type int, which does not fit here"));

  SignalSpec two;
  two.process_name = "x";
  two.pid = "42";
  CHECK(problem(kind_action(ActionKind::signal, two)) ==
        "set exactly one of process_name, pid_file, cmdline, pid");
  SignalSpec pid_param;
  pid_param.pid = "{pid}";
  CHECK(contains(
      problem(kind_action(ActionKind::signal, pid_param, {param("pid", ParamType::integer)})),
      "pid: parameter 'pid' must be an int with min 2 or more"));
  ParamSpec pid = param("pid", ParamType::integer);
  pid.min = 2;
  CHECK(problem(kind_action(ActionKind::signal, pid_param, {pid})).empty());
  SignalSpec pid_one;
  pid_one.pid = "1";
  CHECK(problem(kind_action(ActionKind::signal, pid_one)) ==
        "pid: must be a process id of 2 or "
        "more");
  SignalSpec cmdline;
  cmdline.cmdline = "(unclosed";
  CHECK(contains(problem(kind_action(ActionKind::signal, cmdline)), "cmdline: missing )"));

  CHECK(problem(kind_action(ActionKind::clean, clean("/var/cache/app", 1h, "*.tmp"))).empty());
  CHECK(problem(kind_action(ActionKind::clean, clean("/etc", 1h))) ==
        "directory: /etc is a system directory");
  CHECK(problem(kind_action(ActionKind::clean, clean("/", 1h))) ==
        "directory: must not be the root directory");
  CHECK(contains(problem(kind_action(ActionKind::clean, clean("/var/cache/../../etc", 1h))),
                 "has a '..' component"));
  CHECK(contains(problem(kind_action(ActionKind::clean, clean("/var/cache/app"))),
                 "set older_than and/or max_total_bytes"));
  CHECK(problem(kind_action(ActionKind::clean, clean("/var/x", 1h, "a/b"))) ==
        "name_glob: must be a file name pattern without '/'");
  CHECK(problem(
            kind_action(ActionKind::clean, clean("{dir}", 1h), {param("dir", ParamType::path)})) ==
        "directory: parameter 'dir' needs a base_dir");

  CHECK(problem(kind_action(ActionKind::http, http("POST", "127.0.0.1", 8080, "/reset"))).empty());
  CHECK(problem(kind_action(ActionKind::http, http("POST", "::1", 8080, "/"))).empty());
  CHECK(problem(kind_action(ActionKind::http, http("POST", "10.0.0.1", 8080, "/"))) ==
        "host: must be a loopback address (127.0.0.0/8, ::1, localhost)");
  CHECK(problem(kind_action(ActionKind::http, http("POST", "127.0.0.1", 0, "/"))) ==
        "port: is required");
  CHECK(contains(problem(kind_action(ActionKind::http, http("POST", "localhost", 80, "/a b"))),
                 "path: must start with '/'"));
  CHECK(problem(kind_action(ActionKind::http, http("POST", "localhost", 80, "/p/{x}"))) ==
        "path: '{x}' names no declared parameter");
  CHECK(problem(kind_action(ActionKind::http, http("BREW", "localhost", 80, "/"))) ==
        "method: must be GET, POST, PUT, PATCH, DELETE or HEAD");

  CHECK(problem(kind_action(ActionKind::rollback,
                            RollbackSpec{"/srv/app/releases", "/srv/app/current", {}}))
            .empty());
  CHECK(contains(
      problem(kind_action(ActionKind::rollback, RollbackSpec{"/srv/app/releases", "current", {}})),
      "current_link: value \"current\" is not an absolute path"));
  CHECK(contains(
      problem(kind_action(ActionKind::rollback, RollbackSpec{"/srv/r", "/srv/c", {"reload"}})),
      "reload_argv: value \"reload\" is not an absolute path"));
}
