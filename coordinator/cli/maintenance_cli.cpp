// SPDX-License-Identifier: Apache-2.0
#include "coordinator/cli/maintenance_cli.hpp"

#include <cstdio>
#include <ctime>

#include "coordinator/cli/table.hpp"
#include "shared/config/units.hpp"

namespace medic::coordinator::cli {
namespace {

using json = nlohmann::json;

constexpr const char* k_add_usage =
    "maintenance add [--host H]... [--group G]... [--service S]... "
    "(--for 2h | --until WHEN) [--start WHEN] [--reason TEXT] [--notify]; "
    "WHEN is now, 30m (from now), 2026-11-23T22:00Z or Unix ms";

std::string utc_time(std::int64_t unix_ms) {
  if (unix_ms == 0) {
    return "-";
  }
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%MZ", &utc);
  return text;
}

std::string joined(const json& list) {
  std::string out;
  for (const auto& item : list) {
    out += (out.empty() ? "" : ",") + item.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

std::variant<json, std::string> add_request(const std::vector<std::string>& words,
                                            std::int64_t now_ms) {
  json request{{"cmd", "maintenance.add"},
               {"hosts", json::array()},
               {"groups", json::array()},
               {"services", json::array()}};
  std::int64_t start = now_ms;
  std::optional<std::int64_t> end;
  std::optional<std::int64_t> length;
  for (std::size_t i = 2; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--notify") {
      request["notify"] = true;
      continue;
    }
    if (i + 1 >= words.size()) {
      return std::string(k_add_usage);
    }
    const std::string& value = words[++i];
    if (word == "--host" || word == "--group" || word == "--service") {
      request[word.substr(2) + "s"].push_back(value);
    } else if (word == "--reason") {
      request["reason"] = value;
    } else if (word == "--start" || word == "--until") {
      const auto when = parse_when(value, now_ms);
      if (!when) {
        return word + ": '" + value + "' is not a time; " + k_add_usage;
      }
      (word == "--start" ? start : end.emplace()) = *when;
    } else if (word == "--for") {
      const auto duration = medic::config::parse_duration(value);
      if (!duration) {
        return "--for: " + duration.error().message() + " (e.g. 30m, 2h, 1d)";
      }
      length = duration->count();
    } else {
      return "unknown option '" + word + "'; " + k_add_usage;
    }
  }
  if (end.has_value() == length.has_value()) {
    return std::string("give one of --for and --until; ") + k_add_usage;
  }
  request["start_ms"] = start;
  request["end_ms"] = end ? *end : start + *length;
  return request;
}

std::variant<json, std::string> freeze_request(const std::vector<std::string>& words,
                                               std::int64_t now_ms) {
  constexpr const char* usage = "freeze on [--for 2h] [--reason TEXT] | freeze off | freeze";
  if (words.size() == 1) {
    return json{{"cmd", "maintenance.list"}};
  }
  if (words[1] == "off" && words.size() == 2) {
    return json{{"cmd", "freeze"}, {"on", false}};
  }
  if (words[1] != "on") {
    return std::string(usage);
  }
  json request{{"cmd", "freeze"}, {"on", true}};
  for (std::size_t i = 2; i < words.size(); i += 2) {
    if (i + 1 >= words.size()) {
      return std::string(usage);
    }
    if (words[i] == "--reason") {
      request["reason"] = words[i + 1];
    } else if (words[i] == "--for") {
      const auto duration = medic::config::parse_duration(words[i + 1]);
      if (!duration) {
        return "--for: " + duration.error().message() + " (e.g. 30m, 2h, 1d)";
      }
      request["until_ms"] = now_ms + duration->count();
    } else {
      return std::string(usage);
    }
  }
  return request;
}

void print_state(const json& state) {
  const json freeze = state.value("freeze", json::object());
  if (state.value("frozen", false)) {
    std::printf("fleet freeze: ON since %s by %s until %s (%s)\n",
                utc_time(freeze.value("since_ms", std::int64_t{0})).c_str(),
                freeze.value("actor", "").c_str(),
                freeze.value("until_ms", std::int64_t{0}) == 0
                    ? "lifted"
                    : utc_time(freeze.value("until_ms", std::int64_t{0})).c_str(),
                freeze.value("reason", "").c_str());
  } else {
    std::puts("fleet freeze: off");
  }
  Table table(
      {"ID", "HOSTS", "GROUPS", "SERVICES", "START (UTC)", "END (UTC)", "NOTIFY", "BY", "REASON"});
  for (const auto& w : state.value("windows", json::array())) {
    table.add_row(
        {w.value("id", ""), joined(w.value("hosts", json::array())),
         joined(w.value("groups", json::array())), joined(w.value("services", json::array())),
         utc_time(w.value("start_ms", std::int64_t{0})),
         utc_time(w.value("end_ms", std::int64_t{0})), w.value("notify", false) ? "yes" : "no",
         w.value("actor", ""), w.value("reason", "")});
  }
  if (state.value("windows", json::array()).empty()) {
    std::puts("(no maintenance windows)");
  } else {
    std::fputs(table.render().c_str(), stdout);
  }
}

} // namespace

std::optional<std::int64_t> parse_when(const std::string& text, std::int64_t now_ms) {
  if (text == "now") {
    return now_ms;
  }
  if (!text.empty() && text.size() <= 18 &&
      text.find_first_not_of("0123456789") == std::string::npos) {
    return std::stoll(text);
  }
  if (auto duration = medic::config::parse_duration(text); duration) {
    return now_ms + duration->count();
  }
  std::tm utc{};
  for (const char* format : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ"}) {
    utc = std::tm{};
    const char* end = strptime(text.c_str(), format, &utc);
    if (end != nullptr && *end == '\0') {
      return static_cast<std::int64_t>(timegm(&utc)) * 1000;
    }
  }
  return std::nullopt;
}

std::optional<std::variant<json, std::string>> build_maintenance_request(
    const std::vector<std::string>& words, std::int64_t now_ms) {
  const std::string& verb = words[0];
  if (verb == "freeze") {
    return freeze_request(words, now_ms);
  }
  if (verb != "maintenance") {
    return std::nullopt;
  }
  const std::string sub = words.size() > 1 ? words[1] : "";
  if (sub == "add") {
    return add_request(words, now_ms);
  }
  if (sub == "list" && words.size() == 2) {
    return json{{"cmd", "maintenance.list"}};
  }
  if (sub == "remove" && words.size() == 3) {
    return json{{"cmd", "maintenance.remove"}, {"id", words[2]}};
  }
  return std::string("maintenance add ...|list|remove ID");
}

bool print_maintenance_answer(const std::string& command, const json& answer) {
  if (command != "maintenance.add" && command != "maintenance.remove" &&
      command != "maintenance.list" && command != "freeze") {
    return false;
  }
  print_state(answer.value("maintenance", json::object()));
  return true;
}

} // namespace medic::coordinator::cli
