// SPDX-License-Identifier: Apache-2.0
#include "shared/config/records.hpp"

#include <catch2/catch.hpp>

#include "shared/config/schema.hpp"

using namespace medic::config;
using namespace std::chrono_literals;

namespace {

struct Probe {
  std::string name;
  std::string kind;
  std::chrono::milliseconds timeout{};
  double warn = 0;
  std::map<std::string, std::string> labels;
};

const std::vector<RecordField> k_fields = {
    {"name", FieldKind::text, true, "what to call it", {}},
    {"kind", FieldKind::choice, true, "how to probe", {"tcp", "http"}},
    {"timeout", FieldKind::duration, false, "give up after", {}},
    {"warn", FieldKind::number, false, "latency to warn at", {}},
    {"labels", FieldKind::text_map, false, "added to samples", {}},
};

struct Fixture {
  std::vector<Probe> probes;
  Schema schema{"MEDIC_TEST_"};
  Fixture() {
    schema.add_records(
        "probes", k_fields, "endpoints to probe",
        [this](const std::vector<Record>& records) -> medic::Result<void> {
          probes.clear();
          for (const auto& r : records) {
            if (r.text("kind") == "http" && !r.has("timeout")) {
              return medic::fail(r.error("an http probe needs a timeout"));
            }
            probes.push_back({r.text("name"), r.text("kind"), r.duration("timeout", 1s),
                              r.number("warn", 0.5), r.text_map("labels")});
          }
          return {};
        });
  }
};

std::string load_error(Fixture& fixture, std::string_view yaml) {
  auto loaded = fixture.schema.load_text(yaml, "agent.yaml");
  REQUIRE_FALSE(loaded);
  return loaded.error().message();
}

} // namespace

TEST_CASE("a list of records is read field by field with defaults", "[config]") {
  Fixture fixture;
  REQUIRE(
      fixture.schema.load_text("probes:\n"
                               "  - {name: db, kind: tcp}\n"
                               "  - name: web\n"
                               "    kind: http\n"
                               "    timeout: 2s\n"
                               "    warn: 0.25\n"
                               "    labels: {tier: front}\n",
                               "agent.yaml"));
  REQUIRE(fixture.probes.size() == 2);
  CHECK(fixture.probes[0].timeout == 1s);
  CHECK(fixture.probes[0].warn == 0.5);
  CHECK(fixture.probes[1].timeout == 2s);
  CHECK(fixture.probes[1].warn == 0.25);
  CHECK(fixture.probes[1].labels.at("tier") == "front");
}

TEST_CASE("record errors say which record, where, and what", "[config]") {
  Fixture fixture;
  CHECK(load_error(fixture, "probes:\n  - {name: db, kind: udp}\n")
            .find("probes[0] (line 2, column 5): field 'kind': 'udp' is not one of tcp, http") !=
        std::string::npos);
  CHECK(load_error(fixture, "probes:\n  - {name: db, kind: tcp, timout: 1s}\n")
            .find("unknown field 'timout'; did you mean 'timeout'?") != std::string::npos);
  CHECK(load_error(fixture, "probes:\n  - {kind: tcp}\n").find("field 'name' is required") !=
        std::string::npos);
  CHECK(load_error(fixture, "probes:\n  - {name: a, kind: tcp}\n  - {name: b, kind: http}\n")
            .find("probes[1] (line 3, column 5): an http probe needs a timeout") !=
        std::string::npos);
  CHECK(load_error(fixture, "probes:\n  - {name: a, kind: tcp, warn: lots}\n")
            .find("'lots' is not a number") != std::string::npos);
  CHECK(load_error(fixture, "probes: {name: a}\n").find("expected a list of mappings") !=
        std::string::npos);
  CHECK(load_error(fixture, "probes:\n  - just-a-string\n").find("expected a mapping of fields") !=
        std::string::npos);
  // The file position of the key is in front.
  CHECK(load_error(fixture, "probes:\n  - {kind: tcp}\n").rfind("agent.yaml:2:", 0) == 0);
}

TEST_CASE("an override replaces the whole list and --help-config lists the fields", "[config]") {
  Fixture fixture;
  REQUIRE(fixture.schema.load_text("probes: [{name: a, kind: tcp}, {name: b, kind: tcp}]\n",
                                   "agent.yaml"));
  REQUIRE(fixture.schema.load_override("probes=[{name: c, kind: tcp}]"));
  REQUIRE(fixture.probes.size() == 1);
  CHECK(fixture.probes[0].name == "c");
  const std::string help = fixture.schema.describe();
  CHECK(help.find("timeout (duration): give up after") != std::string::npos);
  CHECK(help.find("kind (choice, required): how to probe [tcp, http]") != std::string::npos);
}

TEST_CASE("records nest: a record field and a list of records", "[config]") {
  const std::vector<RecordField> fields = {
      {"name", FieldKind::text, true, "the job", {}},
      {"check",
       FieldKind::record,
       false,
       "after it ran",
       {},
       {
           {"target", FieldKind::text, true, "what to check", {}},
           {"within", FieldKind::duration, false, "how long to wait", {}},
       }},
      {"args",
       FieldKind::record_list,
       false,
       "its arguments",
       {},
       {
           {"name", FieldKind::text, true, "argument name", {}},
           {"kind", FieldKind::choice, false, "argument kind", {"int", "text"}},
       }},
  };
  std::vector<Record> read;
  Schema schema("MEDIC_TEST_");
  schema.add_records("jobs", fields, "jobs",
                     [&read](const std::vector<Record>& records) -> medic::Result<void> {
                       read = records;
                       return {};
                     });
  REQUIRE(
      schema.load_text("jobs:\n"
                       "  - name: a\n"
                       "    check: {target: web, within: 5s}\n"
                       "    args:\n"
                       "      - {name: x, kind: int}\n"
                       "      - {name: y}\n"
                       "  - {name: b}\n",
                       "agent.yaml"));
  REQUIRE(read.size() == 2);
  const auto check = read[0].record("check");
  REQUIRE(check);
  CHECK(check->text("target") == "web");
  CHECK(check->duration("within") == 5s);
  const auto args = read[0].records("args");
  REQUIRE(args.size() == 2);
  CHECK(args[0].text("kind") == "int");
  CHECK(args[1].text("kind", "text") == "text");
  CHECK(args[1].where() == "jobs[0].args[1] (line 6, column 9)");
  CHECK(args[1].error("bad").message() == "jobs[0].args[1] (line 6, column 9): bad");
  CHECK(read[0].given() == std::vector<std::string>{"args", "check", "name"});
  CHECK_FALSE(read[1].record("check"));
  CHECK(read[1].records("args").empty());

  auto bad = schema.load_text("jobs:\n  - name: a\n    args:\n      - {name: x, knd: int}\n",
                              "agent.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("jobs[0].args[0] (line 4, column 9): unknown field 'knd'") !=
        std::string::npos);
  bad = schema.load_text("jobs:\n  - {name: a, check: {within: 5s}}\n", "agent.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("jobs[0].check (line 2, column 22): field 'target' is "
                                   "required") != std::string::npos);
  bad = schema.load_text("jobs:\n  - {name: a, args: {name: x}}\n", "agent.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("jobs[0].args (line 2, column 21): expected a list of "
                                   "mappings") != std::string::npos);
  const std::string help = schema.describe();
  CHECK(help.find("args (list of records): its arguments\n          name (string, required)") !=
        std::string::npos);
}
