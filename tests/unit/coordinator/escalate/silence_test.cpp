// SPDX-License-Identifier: Apache-2.0
// Silence matchers against incidents (=, !=, =~, !~ anchored, severity or worse, absent labels),
// what is refused when a matcher or a silence is built, the JSON round trip, and the states.
#include <catch2/catch.hpp>

#include "coordinator/escalate/silence.hpp"

namespace escalate = medic::coordinator::escalate;
namespace correlate = medic::coordinator::correlate;
namespace protocol = medic::protocol;
using escalate::MatchField;
using escalate::MatchOp;

namespace {

correlate::Incident incident() {
  correlate::Incident i;
  i.id = 4;
  i.host = "web-12";
  i.service = "nginx";
  i.rule = "process-down";
  i.category = protocol::Category::api;
  i.severity = protocol::Severity::high;
  i.labels = {{"env", "prod-eu"}, {"team", "edge"}};
  return i;
}

escalate::Matcher matcher(MatchField field, MatchOp op, std::string value, std::string name = "") {
  auto made = escalate::make_matcher(field, std::move(name), op, std::move(value));
  REQUIRE(made);
  return *made;
}

escalate::Matcher label(const std::string& text) {
  auto made = escalate::parse_label_matcher(text);
  INFO(text);
  REQUIRE(made);
  return *made;
}

escalate::Silence silence(std::vector<escalate::Matcher> matchers) {
  escalate::Silence s;
  s.id = "s1";
  s.matchers = std::move(matchers);
  s.starts_ms = 1000;
  s.ends_ms = 5000;
  s.created_by = "operator:uid=0";
  s.comment = "deploy";
  return s;
}

} // namespace

TEST_CASE("silence matchers: fields with = != and anchored regexes", "[silence]") {
  const auto i = incident();
  CHECK(escalate::matches(matcher(MatchField::host, MatchOp::equal, "web-12"), i));
  CHECK_FALSE(escalate::matches(matcher(MatchField::host, MatchOp::equal, "web-1"), i));
  CHECK(escalate::matches(matcher(MatchField::host, MatchOp::regex, "web-\\d+"), i));
  // Anchored: a regex matching part of the value does not match.
  CHECK_FALSE(escalate::matches(matcher(MatchField::host, MatchOp::regex, "web"), i));
  CHECK(escalate::matches(matcher(MatchField::host, MatchOp::not_regex, "db-.*"), i));
  CHECK(escalate::matches(matcher(MatchField::service, MatchOp::equal, "nginx"), i));
  CHECK(escalate::matches(matcher(MatchField::rule, MatchOp::not_equal, "disk-full"), i));
  CHECK(escalate::matches(matcher(MatchField::category, MatchOp::equal, "api"), i));
  CHECK_FALSE(escalate::matches(matcher(MatchField::category, MatchOp::equal, "network"), i));
}

TEST_CASE("silence matchers: severity this or worse", "[silence]") {
  auto i = incident(); // high
  CHECK(escalate::matches(matcher(MatchField::severity, MatchOp::at_least, "high"), i));
  CHECK(escalate::matches(matcher(MatchField::severity, MatchOp::at_least, "medium"), i));
  CHECK_FALSE(escalate::matches(matcher(MatchField::severity, MatchOp::at_least, "critical"), i));
  i.severity = protocol::Severity::critical;
  CHECK(escalate::matches(matcher(MatchField::severity, MatchOp::at_least, "critical"), i));
  CHECK_FALSE(escalate::matches(matcher(MatchField::severity, MatchOp::equal, "high"), i));
}

TEST_CASE("silence matchers: labels in the --label form", "[silence]") {
  const auto i = incident();
  CHECK(escalate::matches(label("env=prod-eu"), i));
  CHECK(escalate::matches(label("env=~prod-.*"), i));
  CHECK_FALSE(escalate::matches(label("env=~prod"), i));
  CHECK(escalate::matches(label("env!=prod-us"), i));
  CHECK_FALSE(escalate::matches(label("team!~edge|core"), i));
  // An absent label matches as "" (as in Alertmanager).
  CHECK(escalate::matches(label("zone="), i));
  CHECK_FALSE(escalate::matches(label("zone=a"), i));
  CHECK(escalate::matches(label("zone!=a"), i));
  CHECK(escalate::describe(label("env=~prod-.*")) == "env=~prod-.*");
}

TEST_CASE("silence matchers: bad ones are refused saying what to write", "[silence]") {
  for (const char* text : {"=v", "novalue", "", "!x"}) {
    INFO(text);
    CHECK_FALSE(escalate::parse_label_matcher(text));
  }
  const auto bad_regex = escalate::parse_label_matcher("env=~prod-(");
  REQUIRE_FALSE(bad_regex);
  CHECK(bad_regex.error().message().find("RE2") != std::string::npos);
  const auto bad_severity =
      escalate::make_matcher(MatchField::severity, "", MatchOp::at_least, "urgent");
  REQUIRE_FALSE(bad_severity);
  CHECK(bad_severity.error().message().find("critical, high") != std::string::npos);
  CHECK_FALSE(escalate::make_matcher(MatchField::host, "", MatchOp::at_least, "web-1"));
  CHECK_FALSE(escalate::make_matcher(MatchField::category, "", MatchOp::equal, "nope"));
  CHECK_FALSE(escalate::make_matcher(MatchField::label, "", MatchOp::equal, "x"));
}

TEST_CASE("silence matchers: the JSON form round-trips and is checked", "[silence]") {
  const std::vector<escalate::Matcher> matchers = {
      matcher(MatchField::host, MatchOp::regex, "web-.*"),
      matcher(MatchField::severity, MatchOp::at_least, "high"), label("env!~dev.*")};
  const auto text = escalate::matchers_to_json(matchers);
  auto back = escalate::matchers_from_json(text);
  REQUIRE(back);
  CHECK(escalate::matchers_to_json(*back) == text);
  CHECK(escalate::describe(*back) == "host=~web-.*, severity>=high, env!~dev.*");
  CHECK(escalate::matches(back->at(0), incident()));

  using nlohmann::json;
  CHECK_FALSE(escalate::matchers_from_json(json::object()));
  CHECK_FALSE(escalate::matchers_from_json(json::parse(R"([{"field":"hostname","op":"=",
                                                            "value":"x"}])")));
  CHECK_FALSE(escalate::matchers_from_json(json::parse(R"([{"field":"host","op":"~",
                                                            "value":"x"}])")));
  CHECK_FALSE(escalate::matchers_from_json(json::parse(R"([{"field":"label","op":"=",
                                                            "value":"x"}])")));
  CHECK_FALSE(escalate::matchers_from_json(json::parse(R"([{"field":"host","op":"="}])")));
}

TEST_CASE("silences: states in time and all matchers must match", "[silence]") {
  auto s = silence({matcher(MatchField::host, MatchOp::equal, "web-12"), label("env=prod-eu")});
  const auto i = incident();
  CHECK(escalate::state_of(s, 500) == escalate::SilenceState::pending);
  CHECK_FALSE(escalate::silences(s, i, 500));
  CHECK(escalate::state_of(s, 1000) == escalate::SilenceState::active);
  CHECK(escalate::silences(s, i, 1000));
  CHECK(escalate::silences(s, i, 4999));
  CHECK(escalate::state_of(s, 5000) == escalate::SilenceState::expired);
  CHECK_FALSE(escalate::silences(s, i, 5000));
  auto other = i;
  other.labels = {{"env", "prod-us"}};
  CHECK_FALSE(escalate::silences(s, other, 2000));
  s.expired_ms = 1500;
  CHECK(escalate::state_of(s, 1200) == escalate::SilenceState::expired);
  const auto shown = escalate::silence_json(s, 1200);
  CHECK(shown.at("state") == "expired");
  CHECK(shown.at("match") == "host=web-12, env=prod-eu");
}

TEST_CASE("silences: a new one needs matchers a comment and a future end", "[silence]") {
  auto s = silence({matcher(MatchField::host, MatchOp::equal, "web-12")});
  CHECK(escalate::check_new_silence(s, 2000));
  CHECK_FALSE(escalate::check_new_silence(s, 6000)); // would end in the past
  auto no_comment = s;
  no_comment.comment.clear();
  const auto refused = escalate::check_new_silence(no_comment, 2000);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("--comment") != std::string::npos);
  auto no_matchers = s;
  no_matchers.matchers.clear();
  CHECK_FALSE(escalate::check_new_silence(no_matchers, 2000));
  auto backwards = s;
  backwards.ends_ms = backwards.starts_ms;
  CHECK_FALSE(escalate::check_new_silence(backwards, 0));
  const auto a = escalate::new_silence_id();
  const auto b = escalate::new_silence_id();
  CHECK(a.size() == 36);
  CHECK(a != b);
}
