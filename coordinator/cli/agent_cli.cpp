// SPDX-License-Identifier: Apache-2.0
#include "coordinator/cli/agent_cli.hpp"

#include <chrono>
#include <cstdio>

#include "coordinator/cli/table.hpp"

namespace medic::coordinator::cli {
namespace {

using json = nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string number(const json& value) {
  return value.is_number() ? value.dump() : "-";
}

void print_fields(const json& agent) {
  const std::int64_t now = now_ms();
  std::string labels;
  const json label_object = agent.value("labels", json::object()); // items() must not dangle
  for (const auto& [name, value] : label_object.items()) {
    labels += (labels.empty() ? "" : ", ") + name + "=" +
              (value.is_string() ? value.get<std::string>() : value.dump());
  }
  std::printf("agent            %s\n", agent.value("id", "").c_str());
  std::printf("host             %s\n", agent.value("host", "").c_str());
  std::printf("version          %s\n", agent.value("version", "").c_str());
  std::printf("state            %s\n", agent.value("state", "").c_str());
  std::printf("labels           %s\n", labels.empty() ? "-" : labels.c_str());
  std::printf("first seen       %s\n",
              format_age(agent.value("first_seen_ms", std::int64_t{0}), now).c_str());
  std::printf("last seen        %s\n",
              format_age(agent.value("last_seen_ms", std::int64_t{0}), now).c_str());
  std::printf("last seq         %s\n", number(agent.value("last_seq", json())).c_str());
  std::printf("batches          %s\n", number(agent.value("batches", json())).c_str());
  std::printf("samples          %s\n", number(agent.value("samples", json())).c_str());
  std::printf("dropped          %s batches, %s items\n",
              number(agent.value("dropped_batches", json())).c_str(),
              number(agent.value("dropped_items", json())).c_str());
}

void print_sections(const json& agent) {
  Table samples({"SAMPLE", "LABELS", "VALUE", "AGE"});
  for (const auto& s : agent.value("latest", json::array())) {
    char value[32];
    std::snprintf(value, sizeof(value), "%.4g", s.value("value", 0.0));
    samples.add_row({s.value("name", ""), s.value("labels", ""), value,
                     format_age(s.value("time_ms", std::int64_t{0}), now_ms())});
  }
  std::printf("\nlatest samples\n%s",
              agent.value("latest", json::array()).empty() ? "(none)\n" : samples.render().c_str());
  Table keys({"KEY", "STATE"});
  for (const auto& k : agent.value("keys", json::array())) {
    keys.add_row({k.value("key", ""), k.value("state", "")});
  }
  std::printf("\nkeys\n%s", agent.value("keys", json::array()).empty() ? "(none enrolled)\n"
                                                                       : keys.render().c_str());
  Table incidents({"ID", "SEVERITY", "RULE", "SERVICE", "MESSAGE"});
  for (const auto& i : agent.value("open_incidents", json::array())) {
    incidents.add_row({number(i.value("id", json())), i.value("severity", ""), i.value("rule", ""),
                       i.value("service", ""), i.value("message", "").substr(0, 60)});
  }
  std::printf("\nopen incidents\n%s", agent.value("open_incidents", json::array()).empty()
                                          ? "(none)\n"
                                          : incidents.render().c_str());
  Table catalog({"ACTION", "RISK", "PARAMS"});
  for (const auto& a : agent.value("catalog", json::array())) {
    std::string params;
    for (const auto& p : a.value("params", json::array())) {
      params += (params.empty() ? "" : ", ") + p.value("name", "") + ":" + p.value("type", "");
    }
    catalog.add_row({a.value("name", ""), a.value("risk", ""), params.empty() ? "-" : params});
  }
  std::printf("\naction catalog\n%s",
              !agent.value("catalog_known", false)
                  ? "(not known: no HELLO from this agent since the coordinator started)\n"
              : agent.value("catalog", json::array()).empty() ? "(no actions)\n"
                                                              : catalog.render().c_str());
  Table budgets({"TARGET", "ACTION", "ATTEMPTS", "NEEDS PERSON"});
  for (const auto& b : agent.value("budgets", json::array())) {
    budgets.add_row({b.value("target", ""), b.value("action", ""),
                     number(b.value("attempts", json())),
                     b.value("needs_person", false) ? "yes" : "no"});
  }
  std::printf("\nbudgets\n%s", agent.value("budgets", json::array()).empty()
                                   ? "(none reported)\n"
                                   : budgets.render().c_str());
}

} // namespace

std::optional<std::variant<json, std::string>> build_agent_request(
    const std::vector<std::string>& words) {
  if (words.empty() || words[0] != "agent") {
    return std::nullopt;
  }
  if (words.size() == 3 && words[1] == "show" && !words[2].empty()) {
    return json{{"cmd", "agent.show"}, {"id", words[2]}};
  }
  return std::string("agent show ID (the ID from `medicctl agents`)");
}

bool print_agent_answer(const std::string& command, const json& answer) {
  if (command != "agent.show") {
    return false;
  }
  const json agent = answer.value("agent", json::object());
  print_fields(agent);
  print_sections(agent);
  return true;
}

} // namespace medic::coordinator::cli
