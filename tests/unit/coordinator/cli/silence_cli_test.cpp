// SPDX-License-Identifier: Apache-2.0
// medicctl's silence and agent show command lines: the admin request each builds, and bad usage
// refused with a message saying what to type.
#include <catch2/catch.hpp>

#include "coordinator/cli/agent_cli.hpp"
#include "coordinator/cli/silence_cli.hpp"

namespace cli = medic::coordinator::cli;
using nlohmann::json;

namespace {

constexpr std::int64_t k_now = 1'700'000'000'000;

json request(const std::vector<std::string>& words) {
  auto built = cli::build_silence_request(words, k_now);
  REQUIRE(built);
  const auto* value = std::get_if<json>(&*built);
  if (value == nullptr) {
    FAIL("usage error: " << std::get<std::string>(*built));
  }
  return *value;
}

std::string usage(const std::vector<std::string>& words) {
  auto built = cli::build_silence_request(words, k_now);
  REQUIRE(built);
  const auto* text = std::get_if<std::string>(&*built);
  REQUIRE(text != nullptr);
  return *text;
}

} // namespace

TEST_CASE("medicctl silence add builds matchers times and comment", "[silence][cli]") {
  const auto r = request({"silence", "add", "--host", "web-1", "--service", "nginx", "--rule",
                          "~process-.*", "--severity", "high", "--label", "env=~prod-.*", "--label",
                          "team!=db", "--duration", "2h", "--comment", "deploy"});
  CHECK(r.at("cmd") == "silence.add");
  CHECK(r.at("ends_ms") == k_now + 2 * 3'600'000);
  CHECK_FALSE(r.contains("starts_ms")); // the coordinator's now
  CHECK(r.at("comment") == "deploy");
  const json expected = json::parse(R"([
    {"field":"host","op":"=","value":"web-1"},
    {"field":"service","op":"=","value":"nginx"},
    {"field":"rule","op":"=~","value":"process-.*"},
    {"field":"severity","op":">=","value":"high"},
    {"field":"label","name":"env","op":"=~","value":"prod-.*"},
    {"field":"label","name":"team","op":"!=","value":"db"}])");
  CHECK(r.at("matchers") == expected);

  const auto until = request({"silence", "add", "--category", "network", "--until",
                              "2026-11-23T22:00Z", "--start", "30m", "--comment", "switch swap"});
  CHECK(until.at("ends_ms") == 1'795'471'200'000);
  CHECK(until.at("starts_ms") == k_now + 30 * 60'000);
}

TEST_CASE("medicctl silence add refuses bad usage saying what to do", "[silence][cli]") {
  CHECK(usage({"silence", "add", "--host", "h", "--duration", "1h"}).find("--comment") !=
        std::string::npos);
  CHECK(usage({"silence", "add", "--duration", "1h", "--comment", "x"}).find("what to silence") !=
        std::string::npos);
  CHECK(usage({"silence", "add", "--host", "h", "--comment", "x"}).find("--duration") !=
        std::string::npos);
  CHECK(usage({"silence", "add", "--host", "h", "--comment", "x", "--duration", "1h", "--until",
               "2h"})
            .find("one of --duration and --until") != std::string::npos);
  CHECK(usage({"silence", "add", "--host", "h", "--comment", "x", "--duration", "soon"})
            .find("not a duration") != std::string::npos);
  CHECK(usage({"silence", "add", "--label", "env=~(", "--comment", "x", "--duration", "1h"})
            .find("RE2") != std::string::npos);
  CHECK(usage({"silence", "add", "--severity", "urgent", "--comment", "x", "--duration", "1h"})
            .find("critical") != std::string::npos);
  CHECK(usage({"silence", "add", "--hostname", "h"}).find("unknown option") != std::string::npos);
  CHECK(usage({"silence", "add", "--host"}).find("needs a value") != std::string::npos);
}

TEST_CASE("medicctl silence list and expire", "[silence][cli]") {
  CHECK(request({"silence", "list"}) == json{{"cmd", "silence.list"}, {"all", false}});
  CHECK(request({"silence", "list", "--all"}) == json{{"cmd", "silence.list"}, {"all", true}});
  CHECK(request({"silence", "expire", "abc"}) == json{{"cmd", "silence.expire"}, {"id", "abc"}});
  CHECK(usage({"silence", "list", "--everything"}) == "silence list [--all]");
  CHECK(usage({"silence", "expire"}).find("silence expire ID") != std::string::npos);
  CHECK(usage({"silence", "mute"}).find("silence add") != std::string::npos);
  CHECK_FALSE(cli::build_silence_request({"incidents"}, k_now));
}

TEST_CASE("medicctl agent show", "[cli]") {
  auto built = cli::build_agent_request({"agent", "show", "web-1"});
  REQUIRE(built);
  CHECK(std::get<json>(*built) == json{{"cmd", "agent.show"}, {"id", "web-1"}});
  for (const auto& words : std::vector<std::vector<std::string>>{
           {"agent"}, {"agent", "show"}, {"agent", "list", "x"}, {"agent", "show", "a", "b"}}) {
    auto bad = cli::build_agent_request(words);
    REQUIRE(bad);
    REQUIRE(std::holds_alternative<std::string>(*bad));
    CHECK(std::get<std::string>(*bad).find("agent show ID") != std::string::npos);
  }
  CHECK_FALSE(cli::build_agent_request({"agents"}));
}
