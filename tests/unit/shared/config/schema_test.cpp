// SPDX-License-Identifier: Apache-2.0
#include <cstdlib>

#include <catch2/catch.hpp>

#include "shared/config/schema.hpp"
#include "shared/config/units.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
using medic::config::Schema;

namespace {

struct Sample {
  std::string name = "default";
  std::string mode = "fast";
  std::chrono::milliseconds interval{1000};
  std::uint64_t size = 1024;
  std::uint32_t count = 5;
  bool enabled = false;
  std::vector<std::string> paths;
  std::map<std::string, std::string> labels;
};

Schema make(Sample& s) {
  Schema schema("MEDIC_TEST_");
  schema.add_string("agent.name", s.name, "a name");
  schema.add_choice("agent.mode", s.mode, {"fast", "slow"}, "a mode");
  schema.add_duration("sample.interval", s.interval, 100ms, 1h, "how often");
  schema.add_size("spool.size", s.size, 1, 1ULL << 30, "how big");
  schema.add_integer<std::uint32_t>("spool.count", s.count, 1, 10, "how many");
  schema.add_bool("spool.enabled", s.enabled, "on or off");
  schema.add_string_list("tail.paths", s.paths, "files");
  schema.add_string_map("agent.labels", s.labels, "labels");
  return schema;
}

} // namespace

TEST_CASE("a good config fills every typed field") {
  Sample s;
  auto schema = make(s);
  auto loaded = schema.load_text(
      "agent:\n"
      "  name: web-1\n"
      "  mode: slow\n"
      "  labels: {role: db, dc: fra1}\n"
      "sample:\n"
      "  interval: 250ms\n"
      "spool:\n"
      "  size: 64MiB\n"
      "  count: 7\n"
      "  enabled: yes\n"
      "tail:\n"
      "  paths: [/var/log/syslog, /var/log/auth.log]\n",
      "good.yaml");
  REQUIRE(loaded);
  CHECK(s.name == "web-1");
  CHECK(s.mode == "slow");
  CHECK(s.interval == 250ms);
  CHECK(s.size == 64ULL << 20);
  CHECK(s.count == 7);
  CHECK(s.enabled);
  CHECK(s.paths == std::vector<std::string>{"/var/log/syslog", "/var/log/auth.log"});
  CHECK(s.labels == std::map<std::string, std::string>{{"dc", "fra1"}, {"role", "db"}});
}

TEST_CASE("an empty config keeps every default") {
  Sample s;
  auto schema = make(s);
  REQUIRE(schema.load_text("", "empty.yaml"));
  REQUIRE(schema.load_text("# only a comment\n", "comment.yaml"));
  CHECK(s.name == "default");
  CHECK(s.interval == 1000ms);
}

TEST_CASE("errors name the file, line and column and what is wrong") {
  Sample s;
  auto schema = make(s);
  auto check = [&](std::string_view text, std::string_view expected) {
    auto loaded = schema.load_text(text, "x.yaml");
    REQUIRE_FALSE(loaded);
    INFO(loaded.error().message());
    CHECK(loaded.error().message().find(expected) != std::string::npos);
    CHECK(loaded.error().code() == medic::ErrorCode::config);
  };
  check("agent:\n  nmae: x\n", "x.yaml:2:3: unknown key 'agent.nmae' (did you mean 'agent.name'?)");
  check("sample:\n  interval: 5\n", "x.yaml:2:13: key 'sample.interval': expected a duration");
  check("sample:\n  interval: 50ms\n", "out of range 100ms..1h");
  check("spool:\n  count: 11\n", "x.yaml:2:10: key 'spool.count': 11 is out of range 1..10");
  check("spool:\n  count: seven\n", "expected an integer, got 'seven'");
  check("spool:\n  enabled: maybe\n", "expected true or false");
  check("agent:\n  mode: medium\n", "'medium' is not one of fast, slow");
  check("agent: [1, 2]\n", "x.yaml:1:8: 'agent' is a section and needs a mapping of keys");
  check("- just\n- a list\n", "x.yaml:1:1: the top level must be a mapping");
  check("agent:\n  name: [unterminated\n", "x.yaml:3:1:");
  check("tail:\n  paths: /var/log/syslog\n", "expected a list of strings");
  check("agent:\n  name: {a: 1}\n", "expected a string, got a mapping");
}

TEST_CASE("a missing file is an error naming the file") {
  Sample s;
  auto schema = make(s);
  auto loaded = schema.load_file("/nonexistent/medic.yaml");
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().message().find("/nonexistent/medic.yaml: cannot open") != std::string::npos);
}

// The file is read in 16 KiB chunks (not into a zero-filled buffer of the whole 4 MiB bound).
TEST_CASE("a file longer than one read chunk loads whole and one over the bound is refused") {
  const medic::test::TempDir dir;
  // A comment of 40 KiB before the keys and another after: three chunks and a partial one.
  const std::string padding = "#" + std::string(40 * 1024, 'x') + "\n";
  medic::test::write_file(dir / "long.yaml",
                          padding + "agent:\n  name: web-2\n" + padding + "spool:\n  count: 9\n");
  Sample s;
  auto schema = make(s);
  REQUIRE(schema.load_file(dir / "long.yaml"));
  CHECK(s.name == "web-2");
  CHECK(s.count == 9);

  constexpr std::size_t k_bound = 4 << 20;
  const std::string at_bound = "agent:\n  name: web-3\n#";
  medic::test::write_file(dir / "at.yaml",
                          at_bound + std::string(k_bound - at_bound.size() - 1, 'x') + "\n");
  Sample t;
  auto exact = make(t);
  REQUIRE(exact.load_file(dir / "at.yaml"));
  CHECK(t.name == "web-3");

  medic::test::write_file(dir / "over.yaml",
                          at_bound + std::string(k_bound - at_bound.size(), 'x') + "\n");
  Sample u;
  auto over = make(u);
  auto refused = over.load_file(dir / "over.yaml");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("larger than the 4 MiB") != std::string::npos);
  CHECK(u.name == "default");
}

TEST_CASE("environment overrides the file and --set overrides the environment") {
  Sample s;
  auto schema = make(s);
  REQUIRE(schema.load_text("sample:\n  interval: 2s\n", "f.yaml"));
  CHECK(schema.env_name("sample.interval") == "MEDIC_TEST_SAMPLE_INTERVAL");
  ::setenv("MEDIC_TEST_SAMPLE_INTERVAL", "3s", 1);
  REQUIRE(schema.load_environment());
  CHECK(s.interval == 3s);
  REQUIRE(schema.load_override("sample.interval=4s"));
  CHECK(s.interval == 4s);
  REQUIRE(schema.load_override("agent.labels={role: web}"));
  CHECK(s.labels.at("role") == "web");

  ::setenv("MEDIC_TEST_SAMPLE_INTERVAL", "soon", 1);
  auto bad_env = schema.load_environment();
  ::unsetenv("MEDIC_TEST_SAMPLE_INTERVAL");
  REQUIRE_FALSE(bad_env);
  CHECK(bad_env.error().message().find("environment MEDIC_TEST_SAMPLE_INTERVAL") !=
        std::string::npos);

  auto unknown = schema.load_override("sample.intervl=1s");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message().find("did you mean 'sample.interval'") != std::string::npos);
  CHECK_FALSE(schema.load_override("no-equals-sign"));
}

TEST_CASE("the key reference lists every key with type, default and variable") {
  Sample s;
  auto schema = make(s);
  const std::string text = schema.describe();
  CHECK(text.find("sample.interval (duration, default 1s)") != std::string::npos);
  CHECK(text.find("MEDIC_TEST_SPOOL_SIZE") != std::string::npos);
}

TEST_CASE("durations and sizes parse with units and reject the rest") {
  using medic::config::parse_duration;
  using medic::config::parse_size;
  CHECK(parse_duration("500ms").value() == 500ms);
  CHECK(parse_duration("2s").value() == 2s);
  CHECK(parse_duration("5m").value() == 5min);
  CHECK(parse_duration("1h").value() == 1h);
  CHECK(parse_duration("7d").value() == 168h);
  CHECK_FALSE(parse_duration("5"));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("1.5s"));
  CHECK_FALSE(parse_duration("99999999999999999999s"));
  CHECK_FALSE(parse_duration("9999999999999999d"));
  CHECK(parse_size("512").value() == 512);
  CHECK(parse_size("4KiB").value() == 4096);
  CHECK(parse_size("64MiB").value() == 64ULL << 20);
  CHECK(parse_size("1GB").value() == 1'000'000'000ULL);
  CHECK_FALSE(parse_size("1TB"));
  CHECK_FALSE(parse_size("lots"));
  CHECK(medic::config::format_duration(1500ms) == "1500ms");
  CHECK(medic::config::format_duration(120s) == "2m");
}
