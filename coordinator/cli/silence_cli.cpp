// SPDX-License-Identifier: Apache-2.0
#include "coordinator/cli/silence_cli.hpp"

#include <cstdio>
#include <ctime>

#include "coordinator/cli/maintenance_cli.hpp"
#include "coordinator/cli/table.hpp"
#include "coordinator/escalate/silence.hpp"
#include "shared/config/units.hpp"

namespace medic::coordinator::cli {
namespace {

using json = nlohmann::json;
using escalate::MatchField;
using escalate::MatchOp;

constexpr const char* k_add_usage =
    "silence add [--host H] [--service S] [--rule R] [--category C] [--severity S] "
    "[--label K=V|K!=V|K=~RE|K!~RE]... (--duration 2h | --until WHEN) [--start WHEN] "
    "--comment TEXT; a ~ before a host, service or rule makes it a regex (--host '~web-.*'); "
    "--severity S silences S and worse; WHEN is 30m (from now), 2026-11-23T22:00Z or Unix ms";

std::string utc_time(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// --host/--service/--rule/--category/--severity VALUE as a matcher.
Result<escalate::Matcher> field_matcher(const std::string& option, const std::string& value) {
  const std::string field = option.substr(2);
  if (field == "severity") {
    return escalate::make_matcher(MatchField::severity, "", MatchOp::at_least, value);
  }
  const MatchField which = field == "host"      ? MatchField::host
                           : field == "service" ? MatchField::service
                           : field == "rule"    ? MatchField::rule
                                                : MatchField::category;
  if (value.starts_with("~")) {
    return escalate::make_matcher(which, "", MatchOp::regex, value.substr(1));
  }
  return escalate::make_matcher(which, "", MatchOp::equal, value);
}

std::variant<json, std::string> add_request(const std::vector<std::string>& words,
                                            std::int64_t now_ms) {
  std::vector<escalate::Matcher> matchers;
  std::optional<std::int64_t> start;
  std::optional<std::int64_t> end;
  std::optional<std::int64_t> length;
  std::string comment;
  for (std::size_t i = 2; i < words.size(); ++i) {
    const std::string& option = words[i];
    if (i + 1 >= words.size()) {
      return option + " needs a value; " + k_add_usage;
    }
    const std::string& value = words[++i];
    if (option == "--host" || option == "--service" || option == "--rule" ||
        option == "--category" || option == "--severity") {
      auto matcher = field_matcher(option, value);
      if (!matcher) {
        return option + ": " + matcher.error().message();
      }
      matchers.push_back(std::move(*matcher));
    } else if (option == "--label") {
      auto matcher = escalate::parse_label_matcher(value);
      if (!matcher) {
        return "--label: " + matcher.error().message();
      }
      matchers.push_back(std::move(*matcher));
    } else if (option == "--comment") {
      comment = value;
    } else if (option == "--start" || option == "--until") {
      const auto when = parse_when(value, now_ms);
      if (!when) {
        return option + ": '" + value + "' is not a time; " + k_add_usage;
      }
      (option == "--start" ? start : end) = *when;
    } else if (option == "--duration" || option == "--for") {
      const auto duration = medic::config::parse_duration(value);
      if (!duration || duration->count() <= 0) {
        return option + ": '" + value + "' is not a duration (e.g. 30m, 2h, 1d)";
      }
      length = duration->count();
    } else {
      return "unknown option '" + option + "'; " + k_add_usage;
    }
  }
  if (matchers.empty()) {
    return std::string(
               "say what to silence (--host, --service, --rule, --category, --severity "
               "or --label); ") +
           k_add_usage;
  }
  if (comment.empty()) {
    return std::string(
               "say why with --comment \"...\" (it is shown to everyone the silence "
               "spares); ") +
           k_add_usage;
  }
  if (end.has_value() == length.has_value()) {
    return std::string("give one of --duration and --until; ") + k_add_usage;
  }
  const std::int64_t starts = start.value_or(now_ms);
  json request{{"cmd", "silence.add"},
               {"matchers", escalate::matchers_to_json(matchers)},
               {"ends_ms", end ? *end : starts + *length},
               {"comment", comment}};
  if (start) {
    request["starts_ms"] = *start;
  }
  return request;
}

void print_silences(const json& list) {
  if (list.empty()) {
    std::puts("(no silences)");
    return;
  }
  Table table({"ID", "STATE", "MATCHERS", "STARTS (UTC)", "ENDS (UTC)", "BY", "COMMENT"});
  for (const auto& s : list) {
    table.add_row({s.value("id", ""), s.value("state", ""), s.value("match", ""),
                   utc_time(s.value("starts_ms", std::int64_t{0})),
                   utc_time(s.value("ends_ms", std::int64_t{0})), s.value("created_by", ""),
                   s.value("comment", "").substr(0, 60)});
  }
  std::fputs(table.render().c_str(), stdout);
}

} // namespace

std::optional<std::variant<json, std::string>> build_silence_request(
    const std::vector<std::string>& words, std::int64_t now_ms) {
  if (words.empty() || (words[0] != "silence" && words[0] != "silences")) {
    return std::nullopt;
  }
  const std::string sub = words.size() > 1 ? words[1] : "list";
  if (words[0] == "silences" && words.size() == 1) {
    return json{{"cmd", "silence.list"}};
  }
  if (sub == "add") {
    return add_request(words, now_ms);
  }
  if (sub == "list" && words.size() <= 3) {
    if (words.size() == 3 && words[2] != "--all") {
      return std::string("silence list [--all]");
    }
    return json{{"cmd", "silence.list"}, {"all", words.size() == 3}};
  }
  if (sub == "expire" && words.size() == 3) {
    return json{{"cmd", "silence.expire"}, {"id", words[2]}};
  }
  if (sub == "expire") {
    return std::string("silence expire ID (the ID from `medicctl silence list`)");
  }
  return std::string("silence add ...|list [--all]|expire ID (try --help)");
}

bool print_silence_answer(const std::string& command, const json& answer) {
  if (command == "silence.list") {
    print_silences(answer.value("silences", json::array()));
  } else if (command == "silence.add" || command == "silence.expire") {
    const json silence = answer.value("silence", json::object());
    std::printf("silence %s %s: %s, %s to %s\n", silence.value("id", "").c_str(),
                command == "silence.add" ? "added" : "expired", silence.value("match", "").c_str(),
                utc_time(silence.value("starts_ms", std::int64_t{0})).c_str(),
                utc_time(silence.value("ends_ms", std::int64_t{0})).c_str());
  } else {
    return false;
  }
  return true;
}

} // namespace medic::coordinator::cli
