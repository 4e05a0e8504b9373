// SPDX-License-Identifier: Apache-2.0
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/detect/log_rules.hpp"

using namespace medic::agent::detect;

namespace {

struct Recorded {
  std::uint32_t rule_id = 0;
  LogSignalKind kind = LogSignalKind::fire;
  std::uint32_t count = 0;
  std::uint32_t template_id = 0;
  std::string source;
  std::string line;
  std::map<std::string, std::string> labels;
  std::int64_t t_ms = 0;
};

std::map<std::string, std::string> copy(std::span<const LogLabel> labels) {
  std::map<std::string, std::string> out;
  for (const LogLabel& label : labels) {
    out.emplace(label.name, label.value);
  }
  return out;
}

class RecordingSink final : public LogSink {
public:
  void on_signal(const LogSignal& s) noexcept override {
    signals.push_back(Recorded{s.rule_id, s.kind, s.count_in_window, s.template_id,
                               std::string(s.source), std::string(s.line), copy(s.labels), s.t_ms});
  }
  void on_event(const LogEvent& e) noexcept override {
    events.push_back(Recorded{e.rule_id, LogSignalKind::fire, 0, e.template_id,
                              std::string(e.source), std::string(e.line), copy(e.labels), e.t_ms});
  }
  std::vector<Recorded> signals;
  std::vector<Recorded> events;
};

LogRules make(std::vector<LogRule> rules, LogRulesOptions options = {}) {
  auto made = LogRules::create(std::move(rules), std::move(options));
  REQUIRE(made);
  return std::move(*made);
}

LogRule refused_rule() {
  LogRule rule;
  rule.id = 1;
  rule.pattern = "Connection refused";
  rule.count = 5;
  rule.window_ms = 60'000;
  rule.quiet_ms = 0;
  return rule;
}

LogLine line_at(std::string_view text, std::int64_t t_ms, std::string_view source = "app") {
  return LogLine{source, text, {}, -1, t_ms};
}

} // namespace

TEST_CASE("a rule fires at exactly the 5th match within 60 s", "[logrules]") {
  LogRules rules = make({refused_rule()});
  RecordingSink sink;
  for (int i = 0; i < 4; ++i) {
    rules.process(
        line_at("connect to 10.0.0." + std::to_string(i) + ": Connection refused", i * 14'000),
        sink);
    CHECK(sink.signals.empty());
  }
  rules.process(line_at("unrelated line", 56'000), sink);
  rules.process(line_at("connect to 10.0.0.9: Connection refused", 59'000), sink);
  REQUIRE(sink.signals.size() == 1);
  const Recorded& fired = sink.signals[0];
  CHECK(fired.rule_id == 1);
  CHECK(fired.kind == LogSignalKind::fire);
  CHECK(fired.count == 5);
  CHECK(fired.line == "connect to 10.0.0.0: Connection refused"); // first of the burst
  CHECK(fired.source == "app");
  CHECK(fired.t_ms == 59'000);
  CHECK(sink.events.size() == 5);
  CHECK(rules.firing(1));
  CHECK(rules.counters().fires == 1);
  CHECK(rules.counters().matches == 5);
  CHECK(rules.counters().lines == 6);
}

TEST_CASE("five matches spread over 61 s do not fire", "[logrules]") {
  LogRules rules = make({refused_rule()});
  RecordingSink sink;
  for (int i = 0; i < 5; ++i) {
    rules.process(line_at("Connection refused", i * 15'250), sink);
  }
  CHECK(sink.signals.empty());
  CHECK_FALSE(rules.firing(1));
}

TEST_CASE("a fired rule clears after its window empties and the quiet period", "[logrules]") {
  LogRule rule = refused_rule();
  rule.quiet_ms = 30'000;
  LogRules rules = make({rule});
  RecordingSink sink;
  for (int i = 0; i < 5; ++i) {
    rules.process(line_at("Connection refused", i * 1'000), sink);
  }
  REQUIRE(sink.signals.size() == 1);
  rules.tick(60'000, sink); // the first match left at 60 s: below since then
  rules.tick(89'999, sink);
  CHECK(sink.signals.size() == 1);
  rules.tick(90'000, sink);
  REQUIRE(sink.signals.size() == 2);
  CHECK(sink.signals[1].kind == LogSignalKind::clear);
  CHECK(sink.signals[1].rule_id == 1);
  CHECK(sink.signals[1].count == 0);
  CHECK(sink.signals[1].line == "Connection refused");
  CHECK_FALSE(rules.firing(1));
  // A new burst fires again and reports its own first line.
  for (int i = 0; i < 5; ++i) {
    rules.process(line_at("again: Connection refused " + std::to_string(i), 200'000 + i), sink);
  }
  REQUIRE(sink.signals.size() == 3);
  CHECK(sink.signals[2].line == "again: Connection refused 0");
}

TEST_CASE("labels come from named groups, bounded in length and number", "[logrules]") {
  LogRule rule;
  rule.id = 7;
  rule.pattern = R"(Failed password for (?P<user>\S+) from (?P<ip>[\d.]+)(?: port (?P<port>\d+))?)";
  LogRulesOptions options;
  options.max_label_bytes = 16;
  options.max_labels = 2;
  LogRules rules = make({rule}, options);
  RecordingSink sink;
  rules.process(line_at("sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2", 0), sink);
  REQUIRE(sink.events.size() == 1);
  CHECK(sink.events[0].labels ==
        std::map<std::string, std::string>{{"user", "root"}, {"ip", "10.0.0.1"}});
  rules.process(line_at("Failed password for averyveryverylongusername from 10.0.0.2", 1), sink);
  REQUIRE(sink.events.size() == 2);
  CHECK(sink.events[1].labels.at("user") == "averyveryverylon");
  // count 1: the first match fired with its labels.
  REQUIRE_FALSE(sink.signals.empty());
  CHECK(sink.signals[0].labels.at("user") == "root");
}

TEST_CASE("a label cut never ends inside a UTF-8 character", "[logrules]") {
  LogRule rule;
  rule.id = 2;
  rule.pattern = R"(name=(?P<name>\S+))";
  LogRulesOptions options;
  options.max_label_bytes = 4;
  LogRules rules = make({rule}, options);
  RecordingSink sink;
  rules.process(line_at("name=ab\xc3\xa9z", 0), sink); // "abéz": é is 2 bytes at offsets 2..3
  CHECK(sink.events.at(0).labels.at("name") == "ab\xc3\xa9");
  rules.process(line_at("name=abc\xc3\xa9", 1), sink);
  CHECK(sink.events.at(1).labels.at("name") == "abc");
}

TEST_CASE("the source filter admits only the named sources", "[logrules]") {
  LogRule rule = refused_rule();
  rule.count = 1;
  rule.sources = {"/var/log/nginx/error.log"};
  LogRules rules = make({rule});
  RecordingSink sink;
  rules.process(line_at("Connection refused", 0, "/var/log/syslog"), sink);
  CHECK(sink.events.empty());
  rules.process(line_at("Connection refused", 1, "/var/log/nginx/error.log"), sink);
  CHECK(sink.events.size() == 1);
}

TEST_CASE("a new template that looks like an error gives one signal", "[logrules]") {
  LogRules rules = make({});
  RecordingSink sink;
  const std::uint32_t id = rules.process(
      LogLine{"db", "ERROR could not open /var/db/users", "could not open /var/db/users", -1, 5}, sink);
  REQUIRE(sink.signals.size() == 1);
  CHECK(sink.signals[0].kind == LogSignalKind::new_error_template);
  CHECK(sink.signals[0].rule_id == 0);
  CHECK(sink.signals[0].template_id == id);
  CHECK(sink.signals[0].line == "ERROR could not open /var/db/users");
  // Same template again: not new.
  rules.process(
      LogLine{"db", "ERROR could not open /var/db/orders", "could not open /var/db/orders", -1, 6},
      sink);
  CHECK(sink.signals.size() == 1);
  // New but not an error; then a known priority decides over the pattern.
  rules.process(line_at("user logged in", 7), sink);
  rules.process(LogLine{"j", "disk almost full", {}, 2, 8}, sink);
  rules.process(LogLine{"j", "ERROR but priority says info", {}, 6, 9}, sink);
  REQUIRE(sink.signals.size() == 2);
  CHECK(sink.signals[1].line == "disk almost full");
  CHECK(rules.miner() != nullptr);
}

TEST_CASE("new-error-template signals are limited per minute", "[logrules]") {
  LogRulesOptions options;
  options.new_error_template_burst = 3;
  LogRules rules = make({}, options);
  RecordingSink sink;
  // Lines of different token counts: ten different templates whatever the miner merges.
  std::string text = "FATAL";
  for (int i = 0; i < 10; ++i) {
    text += " x";
    rules.process(line_at(text, i), sink);
  }
  CHECK(sink.signals.size() == 3);
  CHECK(rules.counters().new_error_templates_dropped == 7);
  rules.process(line_at("FATAL a brand new shape of line", 61'000), sink);
  CHECK(sink.signals.size() == 4);
}

TEST_CASE("a line a prefilter ruled out is mined, not matched", "[logrules]") {
  LogRule rule = refused_rule();
  rule.count = 1;
  LogRules rules = make({rule});
  RecordingSink sink;
  LogLine line = line_at("connect to db: Connection refused", 0);
  line.may_match = false;
  const std::uint32_t id = rules.process(line, sink);
  CHECK(id != 0);
  CHECK(sink.events.empty());
  CHECK(rules.counters().matches == 0);
  line.may_match = true;
  CHECK(rules.process(line, sink) == id);
  CHECK(sink.events.size() == 1);
  CHECK(rules.counters().lines == 2);
}

TEST_CASE("events carry the template id and a bounded line", "[logrules]") {
  LogRule rule = refused_rule();
  rule.count = 100;
  LogRulesOptions options;
  options.max_line_bytes = 32;
  LogRules rules = make({rule}, options);
  RecordingSink sink;
  const std::string longer = "Connection refused " + std::string(100, 'z');
  const std::uint32_t id = rules.process(line_at(longer, 0), sink);
  REQUIRE(sink.events.size() == 1);
  CHECK(sink.events[0].template_id == id);
  CHECK(sink.events[0].line.size() == 32);
  CHECK(sink.events[0].rule_id == 1);
}

TEST_CASE("bad rules are refused with the rule's id", "[logrules]") {
  const auto refused = [](LogRule rule, const char* what) {
    auto rules = LogRules::create({std::move(rule)});
    REQUIRE_FALSE(rules);
    CHECK_THAT(rules.error().message(), Catch::Contains(what));
  };
  LogRule rule = refused_rule();
  rule.id = 0;
  refused(rule, "id must be at least 1");
  rule = refused_rule();
  rule.count = 0;
  refused(rule, "rule 1: count must be in 1..10000");
  rule = refused_rule();
  rule.window_ms = 0;
  refused(rule, "rule 1: window");
  rule = refused_rule();
  rule.pattern = "(unclosed";
  refused(rule, "missing )");
  LogRulesOptions options;
  options.error_level_pattern = "[";
  auto bad_level = LogRules::create({}, options);
  REQUIRE_FALSE(bad_level);
  CHECK_THAT(bad_level.error().message(), Catch::Contains("error_level_pattern"));
}

TEST_CASE("rules work with mining off and with the RE2 engine", "[logrules]") {
  LogRulesOptions options;
  options.mine_templates = false;
  options.engine = MatcherEngine::re2_set;
  LogRule rule = refused_rule();
  rule.count = 2;
  LogRules rules = make({rule}, options);
  RecordingSink sink;
  CHECK(rules.process(line_at("Connection refused", 0), sink) == 0);
  rules.process(line_at("Connection refused", 1), sink);
  REQUIRE(sink.signals.size() == 1);
  CHECK(sink.signals[0].template_id == 0);
  CHECK(rules.miner() == nullptr);
}
