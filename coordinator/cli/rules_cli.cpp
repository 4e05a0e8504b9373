// SPDX-License-Identifier: Apache-2.0
#include "coordinator/cli/rules_cli.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "coordinator/admin/admin_server.hpp"
#include "coordinator/cli/table.hpp"
#include "shared/config/units.hpp"

namespace medic::coordinator::cli {

namespace {

using nlohmann::json;

constexpr std::uintmax_t k_max_rules_file = 1024 * 1024;
constexpr std::int64_t k_default_since_ms = 24 * 3'600'000; // rules test without --since: 1 day

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The rules file's text, bounded; an error sentence when it cannot be sent.
std::variant<std::string, std::string> read_rules(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return std::variant<std::string, std::string>(std::in_place_index<1>,
                                                  "cannot read " + path + ": " + ec.message());
  }
  if (size > k_max_rules_file) {
    return std::variant<std::string, std::string>(
        std::in_place_index<1>,
        path + " is " + std::to_string(size) + " bytes; a rules file may be at most 1 MiB");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    return std::variant<std::string, std::string>(std::in_place_index<1>, "cannot read " + path);
  }
  return std::variant<std::string, std::string>(std::in_place_index<0>, text.str());
}

// The request with the rules' text, or why it cannot go (too big for the admin socket).
std::variant<json, std::string> with_rules(json request, const std::string& path) {
  auto text = read_rules(path);
  if (text.index() == 1) {
    return std::get<1>(text);
  }
  request["rules"] = std::move(std::get<0>(text));
  request["origin"] = path;
  const std::size_t bytes = request.dump(-1, ' ', false, json::error_handler_t::replace).size() + 1;
  if (bytes > admin::AdminServer::k_max_request_bytes) {
    return path + " makes a request of " + std::to_string(bytes) +
           " bytes; the admin socket takes at most " +
           std::to_string(admin::AdminServer::k_max_request_bytes) +
           " (split the file, or drop comments)";
  }
  return request;
}

std::variant<json, std::string> test_request(const std::vector<std::string>& words) {
  const std::int64_t now = now_ms();
  json request{{"cmd", "rules.test"},
               {"since_ms", std::max<std::int64_t>(0, now - k_default_since_ms)}};
  std::string path;
  for (std::size_t i = 2; i < words.size(); i += 2) {
    const std::string& option = words[i];
    if (i + 1 >= words.size()) {
      return "'" + option + "' needs a value";
    }
    const std::string& value = words[i + 1];
    if (option == "--rules") {
      path = value;
    } else if (option == "--since" || option == "--until") {
      auto when = parse_when(value, now);
      if (!when) {
        return option + ": " + when.error().message();
      }
      request[option == "--since" ? "since_ms" : "until_ms"] = *when;
    } else if (option == "--limit" || option == "--assume") {
      const bool limit = option == "--limit";
      auto ms = limit ? Result<std::chrono::milliseconds>{} : config::parse_duration(value);
      if (limit && (value.empty() || value.size() > 9 ||
                    value.find_first_not_of("0123456789") != std::string::npos)) {
        return std::string("--limit takes a number of signals (1 to 100000)");
      }
      if (!ms) {
        return "--assume: " + ms.error().message() + " (e.g. 5s)";
      }
      request[limit ? "limit" : "assume_ms"] = limit ? std::stoll(value) : ms->count();
    } else {
      return "rules test takes --rules FILE, --since WHEN, --until WHEN, --limit N and "
             "--assume DURATION; not '" +
             option + "'";
    }
  }
  if (path.empty()) {
    return std::string("rules test needs --rules FILE (the candidate rule set)");
  }
  return with_rules(std::move(request), path);
}

std::string clock_time(std::int64_t unix_ms) {
  if (unix_ms <= 0) {
    return "-";
  }
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%SZ", &utc);
  return text;
}

std::string decisions_text(const json& incident) {
  std::string text;
  for (const auto& d : incident.value("decisions", json::array())) {
    std::string one = d.value("verdict", "");
    if (!d.value("action", "").empty()) {
      one += " " + d.value("action", "");
    }
    if (!d.value("outcome", "").empty()) {
      one += " (" + d.value("outcome", "") + ")";
    }
    text += (text.empty() ? "" : "; ") + one;
  }
  return text.empty() ? "-" : text;
}

std::string incident_kind(const json& i) {
  std::string kind = i.value("kind", "");
  if (kind == "fleet") {
    kind += "(" + std::to_string(i.value("fleet_hosts", 0)) + " hosts)";
  }
  if (i.value("link", "none") != "none") {
    kind += " " + i.value("link", "") + "->" + std::to_string(i.value("root_id", 0));
  }
  return i.value("flapping", false) ? kind + " flapping" : kind;
}

void print_incidents(const json& report) {
  Table table({"ID", "KIND", "HOST", "FINGERPRINT", "DIAGNOSIS", "CONF", "DECISIONS", "ESCALATED"});
  for (const auto& i : report.value("incidents", json::array())) {
    const json d = i.value("diagnosis", json::object());
    std::string escalated;
    for (const auto& e : i.value("escalations", json::array())) {
      escalated += (escalated.empty() ? "" : ",") + e.value("reason", "");
    }
    char confidence[16];
    std::snprintf(confidence, sizeof confidence, "%.0f%%", d.value("confidence", 0.0) * 100);
    table.add_row({std::to_string(i.value("id", 0)), incident_kind(i),
                   i.value("host", "").empty() ? "-" : i.value("host", ""),
                   i.value("fingerprint", "").substr(0, 40),
                   d.value("rule", "-") + " (" + d.value("root_cause", "") + ")", confidence,
                   decisions_text(i).substr(0, 100), escalated.empty() ? "-" : escalated});
  }
  std::fputs(table.render().c_str(), stdout);
  if (report.value("incidents", json::array()).empty()) {
    std::puts("(no incidents would have opened)");
  }
  if (const auto more = report.value("incidents_not_listed", 0ULL); more > 0) {
    std::printf("(%llu more incidents counted, not listed)\n",
                static_cast<unsigned long long>(more));
  }
}

void print_report(const json& report) {
  const json rules = report.value("rules", json::object());
  const json t = report.value("totals", json::object());
  const auto n = [&t](const char* name) { return t.value(name, 0ULL); };
  std::printf("backtest of %s (%llu rules) from %s to %s\n", rules.value("origin", "").c_str(),
              static_cast<unsigned long long>(rules.value("count", 0ULL)),
              clock_time(report.value("since_ms", std::int64_t{0})).c_str(),
              report.value("until_ms", std::int64_t{0}) >= 4'000'000'000'000'000'000
                  ? "now"
                  : clock_time(report.value("until_ms", std::int64_t{0})).c_str());
  if (report.value("cut", false)) {
    std::printf("CUT: the period holds more than %llu signals; replayed up to %s\n",
                static_cast<unsigned long long>(report.value("limit", 0ULL)),
                clock_time(report.value("cut_at_ms", std::int64_t{0})).c_str());
  }
  std::printf(
      "%llu signals -> %llu incidents (%llu host, %llu fleet, %llu reopened, %llu "
      "flapping), %llu needs-review\n",
      n("signals"), n("incidents"), n("host_incidents"), n("fleet_incidents"), n("reopened"),
      n("flapping"), n("needs_review"));
  std::printf(
      "would run %llu (%llu outcomes stored, %llu assumed, %llu failed), wait for "
      "approval %llu (%llu timed out), observe only %llu, held %llu, escalate %llu\n\n",
      n("runs"), n("outcomes_stored"), n("outcomes_assumed"), n("recoveries_failed"),
      n("awaiting_approval"), n("approvals_timed_out"), n("record_only"), n("held"),
      n("escalations"));
  print_incidents(report);
  const json live = report.value("live", json::object());
  if (live.value("available", false)) {
    std::printf(
        "\nlive rules, same period: %llu incidents (%llu fleet), %llu escalated, %llu "
        "needs-review%s\n",
        live.value("incidents", 0ULL), live.value("fleet_incidents", 0ULL),
        live.value("escalated", 0ULL), live.value("needs_review", 0ULL),
        live.value("cut", false) ? " (at least: more were stored)" : "");
  }
  for (const auto& note : report.value("notes", json::array())) {
    std::printf("note: %s\n", note.get<std::string>().c_str());
  }
}

} // namespace

Result<std::int64_t> parse_when(std::string_view text, std::int64_t now_ms) {
  if (!text.empty() && text.size() <= 18 && text.find_first_not_of("0123456789") == text.npos) {
    return std::stoll(std::string(text));
  }
  if (text.size() >= 10 && text[4] == '-' && text[7] == '-') {
    std::tm utc{};
    int seconds = 0;
    char zone[8] = {};
    const std::string copy(text);
    const int fields =
        std::sscanf(copy.c_str(), "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%7s", &utc.tm_year, &utc.tm_mon,
                    &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &seconds, zone);
    const bool date_only = fields == 3 && copy.size() == 10;
    const bool zone_ok = zone[0] == '\0' || std::string_view(zone) == "Z";
    if ((date_only || fields >= 5) && zone_ok && utc.tm_mon >= 1 && utc.tm_mon <= 12 &&
        utc.tm_mday >= 1 && utc.tm_mday <= 31 && utc.tm_hour < 24 && utc.tm_min < 60 &&
        seconds < 61) {
      utc.tm_year -= 1900;
      utc.tm_mon -= 1;
      utc.tm_sec = fields >= 6 ? seconds : 0;
      return static_cast<std::int64_t>(timegm(&utc)) * 1000;
    }
    return fail(ErrorCode::invalid_argument,
                "'" + copy + "' is not a UTC time like 2026-11-23 or 2026-11-23T10:00:00Z");
  }
  auto ago = config::parse_duration(text);
  if (!ago) {
    return fail(ErrorCode::invalid_argument,
                "'" + std::string(text) +
                    "' is not a duration ago (2h), Unix milliseconds or a UTC time "
                    "(2026-11-23T10:00:00Z)");
  }
  return std::max<std::int64_t>(0, now_ms - ago->count());
}

std::optional<std::variant<nlohmann::json, std::string>> build_rules_request(
    const std::vector<std::string>& words) {
  if (words.empty() || words[0] != "rules") {
    return std::nullopt;
  }
  if (words.size() == 3 && words[1] == "check") {
    return with_rules(json{{"cmd", "rules.check"}}, words[2]);
  }
  if (words.size() >= 2 && words[1] == "test") {
    return test_request(words);
  }
  return std::string(
      "rules check FILE | rules test --rules FILE [--since WHEN] [--until WHEN] "
      "[--limit N] [--assume 5s]");
}

bool print_rules_answer(const std::string& command, const nlohmann::json& answer) {
  if (command == "rules.check") {
    const json rules = answer.value("rules", json::object());
    std::string ids;
    for (const auto& id : rules.value("top_level", json::array())) {
      ids += (ids.empty() ? "" : ", ") + id.get<std::string>();
    }
    std::printf("%s: %llu rules valid (top level: %s)\n", rules.value("origin", "").c_str(),
                static_cast<unsigned long long>(rules.value("count", 0ULL)), ids.c_str());
    return true;
  }
  if (command == "rules.test") {
    print_report(answer.value("report", json::object()));
    return true;
  }
  return false;
}

} // namespace medic::coordinator::cli
