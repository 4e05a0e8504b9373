// SPDX-License-Identifier: Apache-2.0
#include "agent/act/catalog_config.hpp"

#include <catch2/catch.hpp>

#include <csignal>

#include "agent/act/params.hpp"

using namespace medic::agent::act;
using namespace std::chrono_literals;

namespace {

struct Loaded {
  ActionsConfig config;
  medic::config::Schema schema{"MEDIC_AGENT_"};
  Loaded() { add_action_keys(schema, config); }
};

std::string load_error(std::string_view yaml) {
  Loaded loaded;
  auto result = loaded.schema.load_text(yaml, "agent.yaml");
  REQUIRE_FALSE(result);
  return result.error().message();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

constexpr std::string_view k_every_kind = R"yaml(
default_actions: false
actions:
  - name: restart-web
    kind: exec
    risk: high
    description: restart the web tier
    argv: [/usr/local/bin/webctl, restart, '{mode}']
    user: www-data
    env_allow: [PATH]
    env: {MODE: '{mode}'}
    cwd: /srv/web
    sha256: 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef
    timeout: 20s
    cooldown: 5m
    expected_success: 0.9
    params:
      - {name: mode, type: enum, allowed: [soft, hard], default: soft}
      - {name: wait, type: duration, min: 1s, max: 10m, required: false}
      - {name: count, type: int, min: -3, max: 7, required: false}
    post_condition: {kind: probe, target: web-http, within: 45s}
    rollback: rollback-web
  - name: rollback-web
    kind: rollback
    releases_dir: /srv/web/releases
    current_link: /srv/web/current
    reload_argv: [/bin/systemctl, reload, web.service]
  - name: block-ip
    kind: exec
    argv: [/usr/sbin/nft, add, element, inet, medic, blocked, '{ip}']
    params: [{name: ip, pattern: '[0-9.]+'}]
    temporary: {undo: unblock-ip, duration: 5m, factor: 3, max_duration: 2h}
  - name: unblock-ip
    kind: exec
    argv: [/usr/sbin/nft, delete, element, inet, medic, blocked, '{ip}']
    params: [{name: ip, pattern: '[0-9.]+'}]
  - {name: start-db, kind: service, unit: postgresql.service, operation: start,
     init_script: /etc/init.d/postgresql}
  - {name: hup-nginx, kind: signal, pid_file: /run/nginx.pid, signal: HUP}
  - {name: usr2-app, kind: signal, cmdline: 'java .*app\.jar', signal: SIGUSR2}
  - {name: sig-9, kind: signal, process_name: worker, signal: '9'}
  - {name: clean-cache, kind: clean, directory: /var/cache/app, older_than: 2d,
     max_total_bytes: 1GiB, name_glob: '*.bin', recursive: true}
  - {name: reset-pool, kind: http, method: PUT, host: 127.0.0.1, port: 8081,
     path: /admin/pool/reset, expected_status: 204}
)yaml";

} // namespace

TEST_CASE("actions of every kind are read from the config", "[act][catalog_config]") {
  Loaded loaded;
  REQUIRE(loaded.schema.load_text(k_every_kind, "agent.yaml"));
  auto catalog = finish_actions(loaded.config);
  REQUIRE(catalog);
  CHECK(catalog->actions().size() == 10);

  const Action& web = *catalog->find("restart-web");
  CHECK(web.kind == ActionKind::exec);
  CHECK(web.risk == Risk::high);
  CHECK(web.timeout == 20s);
  CHECK(web.cooldown == 5min);
  CHECK(web.expected_success == 0.9);
  CHECK(web.rollback == "rollback-web");
  REQUIRE(web.post_condition);
  CHECK(web.post_condition->kind == PostCondition::Kind::probe);
  CHECK(web.post_condition->target == "web-http");
  CHECK(web.post_condition->within == 45s);
  const auto& exec = std::get<ExecSpec>(web.spec);
  CHECK(exec.argv == std::vector<std::string>{"/usr/local/bin/webctl", "restart", "{mode}"});
  CHECK(exec.user == "www-data");
  CHECK(exec.env_set.at("MODE") == "{mode}");
  CHECK(exec.cwd == "/srv/web");
  CHECK(exec.sha256 == "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  REQUIRE(web.params.size() == 3);
  CHECK(web.params[0].type == ParamType::enumeration);
  CHECK_FALSE(web.params[0].required);
  CHECK(web.params[0].default_value == "soft");
  CHECK(web.params[1].min == 1000);
  CHECK(web.params[1].max == 600'000);
  CHECK(web.params[2].min == -3);

  const Action& block = *catalog->find("block-ip");
  REQUIRE(block.temporary);
  CHECK(block.temporary->undo_action == "unblock-ip");
  CHECK(block.temporary->duration == 5min);
  CHECK(block.temporary->factor == 3);
  CHECK(block.temporary->max_duration == 2h);
  CHECK(block.temporary->forget_after == 24h);
  CHECK(block.params[0].required);

  CHECK(std::get<ServiceSpec>(catalog->find("start-db")->spec).init_script ==
        "/etc/init.d/postgresql");
  CHECK(std::get<SignalSpec>(catalog->find("hup-nginx")->spec).signal == SIGHUP);
  CHECK(std::get<SignalSpec>(catalog->find("usr2-app")->spec).signal == SIGUSR2);
  CHECK(std::get<SignalSpec>(catalog->find("sig-9")->spec).signal == 9);
  const auto& clean = std::get<CleanSpec>(catalog->find("clean-cache")->spec);
  CHECK(clean.older_than == 48h);
  CHECK(clean.max_total_bytes == (1ULL << 30));
  CHECK(clean.recursive);
  const auto& http = std::get<HttpSpec>(catalog->find("reset-pool")->spec);
  CHECK(http.method == "PUT");
  CHECK(http.port == 8081);
  CHECK(http.expected_status == 204);
  CHECK(std::get<RollbackSpec>(catalog->find("rollback-web")->spec).reload_argv.size() == 3);
}

TEST_CASE("action records with unknown or misplaced fields are errors with positions",
          "[act][catalog_config]") {
  CHECK(contains(load_error("actions:\n  - {name: a, kind: exec, argv: [/bin/true], timout: 1s}\n"),
                 "actions[0] (line 2, column 5): unknown field 'timout'; did you mean "
                 "'timeout'?"));
  CHECK(contains(load_error("actions:\n  - {name: a, kind: exec, argv: [/bin/true], unit: x}\n"),
                 "actions[0] (line 2, column 5): field 'unit' belongs to service actions, not "
                 "exec"));
  CHECK(contains(load_error("actions:\n  - {name: a, kind: clean, directory: /tmp/x,\n"
                            "     older_than: 1d, port: 80}\n"),
                 "field 'port' belongs to http actions, not clean"));
  CHECK(contains(load_error("actions:\n  - {name: a, kind: shell}\n"),
                 "field 'kind': 'shell' is not one of exec, service"));
  CHECK(load_error("actions:\n  - {name: a, kind: exec, argv: [/bin/true]}\n"
                   "  - {name: b, kind: exec, argv: [/bin/true, '{x}']}\n")
            .starts_with("agent.yaml:2:3: key 'actions': actions[1] (line 3, column 5): argv: "
                         "'{x}' names no declared parameter"));
  CHECK(contains(load_error("actions:\n  - name: a\n    kind: exec\n    argv: [/bin/true]\n"
                            "    params:\n      - {name: n, type: int, min: two}\n"),
                 "actions[0].params[0] (line 6, column 9): min: 'two' is not a whole number"));
  CHECK(contains(load_error("actions:\n  - name: a\n    kind: exec\n    argv: [/bin/true]\n"
                            "    params:\n      - {name: n, typ: int}\n"),
                 "actions[0].params[0] (line 6, column 9): unknown field 'typ'"));
  CHECK(contains(load_error("actions:\n  - name: a\n    kind: exec\n    argv: [/bin/true]\n"
                            "    params:\n      - {name: n, type: string, min: 1}\n"),
                 "min: '1' is not allowed (int and duration only)"));
  CHECK(contains(load_error("actions:\n  - name: a\n    kind: exec\n    argv: [/bin/true]\n"
                            "    params:\n      - {name: d, type: duration, max: soon}\n"),
                 "actions[0].params[0] (line 6, column 9): max: expected a duration"));
  CHECK(contains(load_error("actions:\n  - {name: a, kind: signal, pid: '3', signal: STOP}\n"),
                 "signal 'STOP' is not TERM, KILL, HUP, INT, QUIT, USR1, USR2 or 1 to 64"));
  CHECK(contains(load_error("actions:\n  - {name: a, kind: http, port: 70000}\n"),
                 "port must be 1 to 65535"));
  CHECK(contains(load_error("actions:\n  - {name: a, kind: exec, argv: [/bin/true],\n"
                            "     post_condition: {kind: probe}}\n"),
                 "actions[0].post_condition (line 3, column 22): field 'target' is required"));
  CHECK(contains(load_error("actions:\n  - {name: a, kind: exec, argv: [/bin/true],\n"
                            "     temporary: {undo: b, factor: 0.5}}\n"),
                 "actions[0] (line 2, column 5): temporary: needs undo"));
}

TEST_CASE("the shipped catalog builds and merges under the file's actions",
          "[act][catalog_config]") {
  Loaded loaded;
  auto catalog = finish_actions(loaded.config);
  REQUIRE(catalog);
  for (const char* name :
       {"restart-service", "kill-process", "terminate-process", "clean-tmp", "clean-apt-cache",
        "rotate-log", "diag-process-tree", "diag-sockets", "diag-disk-usage", "diag-memory"}) {
    INFO(name);
    CHECK(catalog->find(name) != nullptr);
  }
  for (const auto& action : catalog->actions()) {
    if (action.name.starts_with("diag-")) {
      CHECK(action.diagnostic);
      CHECK(action.risk == Risk::low);
      CHECK(action.timeout <= 10s);
    }
  }
  const Action& kill = *catalog->find("kill-process");
  CHECK(std::get<SignalSpec>(kill.spec).signal == SIGKILL);
  CHECK(kill.params.at(0).min == 2);
  const Action& restart = *catalog->find("restart-service");
  CHECK(restart.risk == Risk::low);
  CHECK_FALSE(restart.post_condition);
  CHECK(catalog->schemas().size() == catalog->actions().size());
  // The shipped patterns are whole matches (the alternation too) and reject injection.
  using Given = std::vector<medic::protocol::Label>;
  CHECK(bind_params(restart, Given{{"unit", "nginx.service"}}));
  CHECK(bind_params(restart, Given{{"unit", "getty@tty1"}}));
  CHECK_FALSE(bind_params(restart, Given{{"unit", "nginx.service; rm -rf /"}}));
  CHECK_FALSE(bind_params(restart, Given{{"unit", "$(id)"}}));
  CHECK_FALSE(bind_params(restart, Given{{"unit", "-H"}}));
  CHECK_FALSE(bind_params(kill, Given{{"pid", "1"}}));
  CHECK_FALSE(bind_params(kill, Given{{"pid", "-1"}}));
  CHECK(bind_params(kill, Given{{"pid", "4242"}}));

  // The file's action of the same name wins and comes first; finishing again changes nothing.
  Loaded custom;
  REQUIRE(
      custom.schema.load_text("actions:\n  - {name: diag-memory, kind: exec, argv: "
                              "[/usr/bin/free, -g], diagnostic: true, risk: low}\n",
                              "agent.yaml"));
  auto merged = finish_actions(custom.config);
  REQUIRE(merged);
  CHECK(merged->actions().size() == catalog->actions().size());
  CHECK(merged->actions().front().name == "diag-memory");
  CHECK(std::get<ExecSpec>(merged->find("diag-memory")->spec).argv.back() == "-g");
  CHECK(finish_actions(custom.config)->actions().size() == catalog->actions().size());

  Loaded none;
  REQUIRE(none.schema.load_text("default_actions: false\n", "agent.yaml"));
  CHECK(finish_actions(none.config)->actions().empty());
  const std::string help = none.schema.describe();
  CHECK(contains(help, "params (list of records): its parameters"));
  CHECK(contains(help, "post_condition (record): must be healthy after it"));
  CHECK(contains(help, "kind (choice, required): what is checked [probe, rule, process]"));
}

TEST_CASE("catalog cross-reference errors come out of finish_actions", "[act][catalog_config]") {
  Loaded loaded;
  REQUIRE(
      loaded.schema.load_text("actions:\n  - {name: a, kind: exec, argv: [/bin/true], "
                              "rollback: restart-service}\n",
                              "agent.yaml"));
  auto catalog = finish_actions(loaded.config);
  REQUIRE_FALSE(catalog);
  CHECK(catalog.error().message() ==
        "actions: actions[0] 'a': rollback action 'restart-service' requires parameter 'unit', "
        "which this action does not declare");
}
