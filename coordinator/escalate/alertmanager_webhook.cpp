// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/alertmanager_webhook.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include <nlohmann/json.hpp>

namespace medic::coordinator::escalate {

namespace {

using nlohmann::json;
using protocol::Limits;

bool digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) {
    return false;
  }
  const char* first = text.data() + pos;
  const auto [end, ec] = std::from_chars(first, first + count, out);
  return ec == std::errc() && end == first + count;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

protocol::Severity severity_of(std::string_view text) noexcept {
  if (auto parsed = protocol::parse_severity(text)) {
    return *parsed;
  }
  if (text == "page" || text == "emergency" || text == "fatal") {
    return protocol::Severity::critical;
  }
  if (text == "error" || text == "major") {
    return protocol::Severity::high;
  }
  if (text == "low" || text == "minor") {
    return protocol::Severity::low;
  }
  if (text == "none" || text == "informational") {
    return protocol::Severity::info;
  }
  return protocol::Severity::medium; // "warning" and anything unknown
}

std::string text_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string cut(std::string text, std::size_t limit) {
  if (text.size() > limit) {
    text.resize(limit);
  }
  return text;
}

Result<std::vector<protocol::Label>> labels_of(const json& alert) {
  const auto it = alert.find("labels");
  if (it == alert.end() || !it->is_object()) {
    return fail(ErrorCode::invalid_argument, "'labels' is missing or not an object");
  }
  std::vector<protocol::Label> labels;
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string()) {
      return fail(ErrorCode::invalid_argument, "label '" + name + "' is not a string");
    }
    if (labels.size() < Limits::k_max_labels) {
      labels.push_back({cut(name, Limits::k_max_name_bytes),
                        cut(value.get<std::string>(), Limits::k_max_label_value_bytes)});
    }
  }
  return labels;
}

std::string label(const std::vector<protocol::Label>& labels, std::string_view name) {
  for (const auto& l : labels) {
    if (l.name == name) {
      return l.value;
    }
  }
  return {};
}

Result<protocol::SignalState> state_of(const json& alert) {
  const std::string status = text_of(alert, "status");
  if (status == "firing") {
    return protocol::SignalState::firing;
  }
  if (status == "resolved") {
    return protocol::SignalState::cleared;
  }
  return fail(ErrorCode::invalid_argument,
              "'status' is '" + status + "', expected 'firing' or 'resolved'");
}

Result<InboundAlert> alert_of(const json& alert) {
  if (!alert.is_object()) {
    return fail(ErrorCode::invalid_argument, "not an object");
  }
  auto labels = labels_of(alert);
  auto state = state_of(alert);
  if (!labels || !state) {
    return fail(!labels ? labels.error() : state.error());
  }
  InboundAlert in;
  auto& s = in.signal;
  s.rule = cut(label(*labels, "alertname"), Limits::k_max_name_bytes);
  if (s.rule.empty()) {
    return fail(ErrorCode::invalid_argument, "no 'alertname' label");
  }
  s.state = *state;
  s.severity = severity_of(label(*labels, "severity"));
  s.category =
      protocol::parse_category(label(*labels, "category")).value_or(protocol::Category::resource);
  s.fingerprint = cut(text_of(alert, "fingerprint"), Limits::k_max_id_bytes);
  if (s.fingerprint.empty()) {
    return fail(ErrorCode::invalid_argument,
                "no 'fingerprint' (Alertmanager 0.19 or later sends it)");
  }
  const auto time = parse_rfc3339_ms(
      text_of(alert, s.state == protocol::SignalState::firing ? "startsAt" : "endsAt"));
  s.time_ms = time && *time > 0 ? *time : 0;
  const json annotations = alert.value("annotations", json::object());
  std::string message = annotations.is_object() ? text_of(annotations, "summary") : "";
  if (message.empty() && annotations.is_object()) {
    message = text_of(annotations, "description");
  }
  s.message = cut(std::move(message), Limits::k_max_text_bytes);
  std::string instance = label(*labels, "instance");
  in.host = strip_port(instance.empty() ? label(*labels, "host") : instance);
  s.labels = std::move(*labels);
  return in;
}

Result<const json*> alerts_of(const json& payload) {
  if (!payload.is_object()) {
    return fail(ErrorCode::invalid_argument, "the body is not a JSON object");
  }
  const std::string version = text_of(payload, "version");
  if (version != "4") {
    return fail(ErrorCode::invalid_argument,
                "payload version '" + version + "', only Alertmanager's version '4' is understood");
  }
  const auto it = payload.find("alerts");
  if (it == payload.end() || !it->is_array()) {
    return fail(ErrorCode::invalid_argument, "'alerts' is missing or not an array");
  }
  if (it->size() > k_max_webhook_alerts) {
    return fail(ErrorCode::invalid_argument, std::to_string(it->size()) + " alerts, limit " +
                                                 std::to_string(k_max_webhook_alerts));
  }
  return &*it;
}

} // namespace

Result<std::vector<InboundAlert>> parse_alertmanager_webhook(std::string_view body) {
  const auto bad = [](std::string message) {
    return Error(ErrorCode::invalid_argument, std::move(message)).context("Alertmanager webhook");
  };
  if (body.size() > k_max_webhook_body_bytes) {
    return fail(bad("body of " + std::to_string(body.size()) + " bytes, limit " +
                    std::to_string(k_max_webhook_body_bytes)));
  }
  const json payload = json::parse(body, nullptr, false);
  if (payload.is_discarded()) {
    return fail(bad("the body is not valid JSON"));
  }
  auto alerts = alerts_of(payload);
  if (!alerts) {
    return fail(bad(alerts.error().message()));
  }
  std::vector<InboundAlert> result;
  result.reserve((*alerts)->size());
  for (std::size_t i = 0; i < (*alerts)->size(); ++i) {
    auto alert = alert_of((**alerts)[i]);
    if (!alert) {
      return fail(bad("alerts[" + std::to_string(i) + "]: " + alert.error().message()));
    }
    result.push_back(std::move(*alert));
  }
  return result;
}

std::string strip_port(std::string_view instance) {
  if (instance.starts_with('[')) {
    const auto close = instance.find(']');
    return std::string(close == std::string_view::npos ? instance.substr(1)
                                                       : instance.substr(1, close - 1));
  }
  const auto colon = instance.find(':');
  if (colon != std::string_view::npos && instance.find(':', colon + 1) == std::string_view::npos) {
    return std::string(instance.substr(0, colon));
  }
  return std::string(instance);
}

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':' ||
      !digits(text, 0, 4, year) || !digits(text, 5, 2, month) || !digits(text, 8, 2, day) ||
      !digits(text, 11, 2, hour) || !digits(text, 14, 2, minute) || !digits(text, 17, 2, second) ||
      month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (text[pos] == '.') {
    std::size_t used = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++used) {
      if (used < 3) {
        millis = millis * 10 + (text[pos] - '0');
      }
    }
    for (; used < 3; ++used) {
      millis *= 10;
    }
  }
  std::int64_t offset_min = 0;
  const std::string_view zone = text.substr(std::min(pos, text.size()));
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int zh = 0, zm = 0;
    if (!digits(zone, 1, 2, zh) || !digits(zone, 4, 2, zm)) {
      return std::nullopt;
    }
    offset_min = (zone[0] == '+' ? 1 : -1) * (zh * 60 + zm);
  } else if (zone != "Z" && zone != "z") {
    return std::nullopt;
  }
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  return seconds * 1000 + millis;
}

} // namespace medic::coordinator::escalate
