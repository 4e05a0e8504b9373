// SPDX-License-Identifier: Apache-2.0
#include "coordinator/cli/incident_cli.hpp"

#include <cstdio>
#include <ctime>

#include "coordinator/cli/maintenance_cli.hpp"
#include "coordinator/cli/table.hpp"
#include "shared/config/units.hpp"

namespace medic::coordinator::cli {

namespace {

using nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::uint64_t> number(const std::string& word) {
  if (word.empty() || word.size() > 18 ||
      word.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(word);
}

std::variant<json, std::string> incidents_request(const std::vector<std::string>& words) {
  json request{{"cmd", "incidents"}, {"limit", 50}};
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--open") {
      request["open"] = true;
    } else if ((word == "--host" || word == "--severity" || word == "--since") &&
               i + 1 < words.size()) {
      const std::string& value = words[++i];
      if (word == "--since") {
        auto ago = medic::config::parse_duration(value);
        if (!ago) {
          return "--since: " + ago.error().message() + " (e.g. 30m, 2h, 1d)";
        }
        request["since_ms"] = std::max<std::int64_t>(0, now_ms() - ago->count());
      } else {
        request[word.substr(2)] = value;
      }
    } else {
      return "incidents takes --open, --host HOST, --severity LEVEL and --since DURATION; "
             "not '" +
             word + "'";
    }
  }
  return request;
}

std::variant<json, std::string> run_request(const std::vector<std::string>& words) {
  if (words.size() < 2) {
    return std::string("run ACTION --host HOST [--param NAME=VALUE]... [--incident ID]");
  }
  json request{{"cmd", "run"}, {"action", words[1]}, {"params", json::object()}};
  for (std::size_t i = 2; i < words.size(); ++i) {
    if (i + 1 >= words.size()) {
      return "'" + words[i] + "' needs a value";
    }
    const std::string& option = words[i];
    const std::string& value = words[++i];
    if (option == "--host") {
      request["host"] = value;
    } else if (option == "--param") {
      const auto equals = value.find('=');
      if (equals == std::string::npos || equals == 0) {
        return "--param takes NAME=VALUE, not '" + value + "'";
      }
      request["params"][value.substr(0, equals)] = value.substr(equals + 1);
    } else if (option == "--incident") {
      const auto id = number(value);
      if (!id) {
        return std::string("--incident takes an incident number");
      }
      request["incident"] = *id;
    } else {
      return "run takes --host, --param and --incident; not '" + option + "'";
    }
  }
  if (!request.contains("host")) {
    return std::string("run needs --host HOST (a host name or agent id)");
  }
  return request;
}

std::string clock_time(std::int64_t unix_ms) {
  if (unix_ms == 0) {
    return "-";
  }
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof(text), "%m-%d %H:%M:%S", &local);
  return text;
}

void print_incidents(const json& answer) {
  Table table(
      {"ID", "STATE", "SEVERITY", "HOST", "RULE", "COUNT", "DIAGNOSIS", "LINK", "LAST SEEN"});
  const std::int64_t now = now_ms();
  for (const auto& i : answer.value("incidents", json::array())) {
    std::string state = i.value("state", "");
    if (i.value("flapping", false)) {
      state += ",flapping";
    }
    if (i.value("escalated", false)) {
      state += ",escalated";
    }
    std::string link = i.value("link", "none");
    link = link == "none" ? "" : link + "->" + std::to_string(i.value("root_id", 0));
    const json diagnosis = i.value("diagnosis", json::object());
    std::string host = i.value("kind", "") == "fleet"
                           ? "fleet(" + std::to_string(i.value("fleet_hosts", 0)) + " hosts)"
                           : i.value("host", "");
    table.add_row({std::to_string(i.value("id", 0)), state, i.value("severity", ""), host,
                   i.value("rule", ""), std::to_string(i.value("count", 0)),
                   diagnosis.value("root_cause", ""), link,
                   format_age(i.value("last_seen_ms", std::int64_t{0}), now)});
  }
  std::fputs(table.render().c_str(), stdout);
  if (answer.value("incidents", json::array()).empty()) {
    std::puts("(no incidents)");
  }
}

void print_incident(const json& answer) {
  const json i = answer.value("incident", json::object());
  const json d = i.value("diagnosis", json::object());
  std::printf("incident %llu: %s %s on %s (%s, %s)\n",
              static_cast<unsigned long long>(i.value("id", 0ULL)), i.value("state", "").c_str(),
              i.value("rule", "").c_str(), i.value("host", "").c_str(),
              i.value("severity", "").c_str(), i.value("category", "").c_str());
  std::printf("  fingerprint %s, %llu signals, first %s, last %s\n",
              i.value("fingerprint", "").c_str(),
              static_cast<unsigned long long>(i.value("count", 0ULL)),
              clock_time(i.value("first_seen_ms", std::int64_t{0})).c_str(),
              clock_time(i.value("last_seen_ms", std::int64_t{0})).c_str());
  if (!d.empty()) {
    std::printf("  diagnosis %s (rule %s), confidence %.0f%%\n", d.value("root_cause", "").c_str(),
                d.value("rule", "").c_str(), d.value("confidence", 0.0) * 100);
  }
  if (answer.contains("explanation")) {
    std::puts("\nwhy:");
    for (const auto& sentence : answer["explanation"]) {
      std::printf("  %s\n", sentence.get<std::string>().c_str());
    }
    return;
  }
  std::puts("\ntimeline:");
  Table table({"TIME", "ACTOR", "STEP", "WHAT"});
  for (const auto& entry : answer.value("timeline", json::array())) {
    table.add_row({clock_time(entry.value("time_ms", std::int64_t{0})), entry.value("actor", ""),
                   entry.value("kind", ""), entry.value("text", "")});
  }
  std::fputs(table.render().c_str(), stdout);
}

void print_approvals(const json& answer) {
  Table table({"ID", "INCIDENT", "HOST", "ACTION", "RISK", "EXPIRES", "WHY"});
  for (const auto& a : answer.value("approvals", json::array())) {
    table.add_row({std::to_string(a.value("id", 0)), std::to_string(a.value("incident", 0)),
                   a.value("host", ""), a.value("action", ""), a.value("risk", ""),
                   clock_time(a.value("expires_ms", std::int64_t{0})), a.value("reason", "")});
  }
  std::fputs(table.render().c_str(), stdout);
  if (answer.value("approvals", json::array()).empty()) {
    std::puts("(nothing waits for approval)");
  }
}

void print_stats(const json& answer) {
  const json s = answer.value("stats", json::object());
  std::printf("open incidents          %s\n", s.value("open_incidents", json(0)).dump().c_str());
  std::printf("MTTD                    %.1f s\n", s.value("mttd_ms", 0.0) / 1000);
  std::printf("MTTR                    %.1f s\n", s.value("mttr_ms", 0.0) / 1000);
  std::printf("automated recovery rate %.1f %%\n", s.value("automated_recovery_rate", 0.0) * 100);
  std::printf("recovery success rate   %.1f %%\n", s.value("recovery_success_rate", 0.0) * 100);
  std::printf("escalation rate         %.1f %%\n", s.value("escalation_rate", 0.0) * 100);
  std::printf("false-positive rate     %.1f %%\n", s.value("false_positive_rate", 0.0) * 100);
  std::printf("dry-run                 %s\n", s.value("dry_run", false) ? "on" : "off");
  Table table({"ACTION/RISK", "ATTEMPTS", "SUCCESSES", "RATE"});
  for (const char* field : {"per_action", "per_risk"}) {
    for (const auto& row : s.value(field, json::array())) {
      char rate[16];
      std::snprintf(rate, sizeof(rate), "%.0f%%", row.value("rate", 0.0) * 100);
      table.add_row({row.value("name", ""), std::to_string(row.value("attempts", 0)),
                     std::to_string(row.value("successes", 0)), rate});
    }
  }
  std::puts("");
  std::fputs(table.render().c_str(), stdout);
}

} // namespace

std::optional<std::variant<json, std::string>> build_incident_request(
    const std::vector<std::string>& words) {
  const std::string& verb = words[0];
  if (verb == "incidents") {
    return incidents_request(words);
  }
  if (verb == "incident" || verb == "explain" || verb == "approve" || verb == "deny") {
    const bool two_words = verb == "incident";
    const std::size_t id_at = two_words ? 2 : 1;
    if (words.size() != id_at + 1 || !number(words[id_at]) ||
        (two_words && words[1] != "show" && words[1] != "false")) {
      return two_words ? std::string("incident show|false ID")
                       : verb + " ID (a number from medicctl " +
                             (verb == "explain" ? "incidents)" : "approvals)");
    }
    const std::string cmd = two_words ? "incident." + words[1] : verb;
    return json{{"cmd", cmd}, {"id", *number(words[id_at])}};
  }
  if ((verb == "approvals" || verb == "stats") && words.size() == 1) {
    return json{{"cmd", verb}};
  }
  if (verb == "run") {
    return run_request(words);
  }
  if (verb == "dry-run") {
    if (words.size() != 2 || (words[1] != "on" && words[1] != "off")) {
      return std::string("dry-run on|off");
    }
    return json{{"cmd", "dry-run"}, {"on", words[1] == "on"}};
  }
  return build_maintenance_request(words, now_ms());
}

bool print_incident_answer(const std::string& command, const json& answer) {
  if (command == "incidents") {
    print_incidents(answer);
  } else if (command == "incident.show" || command == "explain") {
    print_incident(answer);
  } else if (command == "approvals") {
    print_approvals(answer);
  } else if (command == "stats") {
    print_stats(answer);
  } else if (command == "approve" || command == "deny" || command == "run") {
    std::printf("%s\n", answer.value("outcome", "").c_str());
  } else if (command == "incident.false") {
    std::puts("marked as a false positive");
  } else if (command == "dry-run") {
    std::printf("dry-run is %s\n", answer.value("dry_run", false) ? "on" : "off");
  } else {
    return print_maintenance_answer(command, answer);
  }
  return true;
}

} // namespace medic::coordinator::cli
