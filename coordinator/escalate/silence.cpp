// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/silence.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>

#include <re2/re2.h>

namespace medic::coordinator::escalate {
namespace {

constexpr std::array<std::pair<std::string_view, MatchField>, 6> k_fields = {{
    {"host", MatchField::host},
    {"service", MatchField::service},
    {"rule", MatchField::rule},
    {"category", MatchField::category},
    {"severity", MatchField::severity},
    {"label", MatchField::label},
}};
constexpr std::array<std::pair<std::string_view, MatchOp>, 5> k_ops = {{
    {"=", MatchOp::equal},
    {"!=", MatchOp::not_equal},
    {"=~", MatchOp::regex},
    {"!~", MatchOp::not_regex},
    {">=", MatchOp::at_least},
}};

std::string_view field_value(const Matcher& matcher, const correlate::Incident& incident) {
  switch (matcher.field) {
  case MatchField::host: return incident.host;
  case MatchField::service: return incident.service;
  case MatchField::rule: return incident.rule;
  case MatchField::category: return protocol::to_string(incident.category);
  case MatchField::severity: return protocol::to_string(incident.severity);
  case MatchField::label:
    for (const auto& label : incident.labels) {
      if (label.name == matcher.name) {
        return label.value;
      }
    }
    return {};
  }
  return {};
}

Result<std::string> string_of(const nlohmann::json& item, const char* key) {
  if (!item.contains(key) || !item.at(key).is_string()) {
    return fail(ErrorCode::invalid_argument,
                std::string("each matcher needs a \"") + key + "\" string");
  }
  return item.at(key).get<std::string>();
}

} // namespace

std::string_view to_string(MatchField field) noexcept {
  for (const auto& [name, value] : k_fields) {
    if (value == field) {
      return name;
    }
  }
  return "label";
}

std::string_view to_string(MatchOp op) noexcept {
  for (const auto& [name, value] : k_ops) {
    if (value == op) {
      return name;
    }
  }
  return "=";
}

std::string_view to_string(SilenceState state) noexcept {
  switch (state) {
  case SilenceState::pending: return "pending";
  case SilenceState::active: return "active";
  case SilenceState::expired: return "expired";
  }
  return "expired";
}

Result<Matcher> make_matcher(MatchField field, std::string name, MatchOp op, std::string value) {
  Matcher m{field, std::move(name), op, std::move(value), nullptr};
  const std::string what = describe(m);
  if (field == MatchField::label && m.name.empty()) {
    return fail(ErrorCode::invalid_argument, "a label matcher needs a label name (name=value)");
  }
  if (op == MatchOp::at_least && field != MatchField::severity) {
    return fail(ErrorCode::invalid_argument,
                "'" + what + "': >= is for severity only (e.g. severity>=high)");
  }
  const bool plain = op == MatchOp::equal || op == MatchOp::not_equal || op == MatchOp::at_least;
  if (plain && field == MatchField::severity && !protocol::parse_severity(m.value)) {
    return fail(ErrorCode::invalid_argument,
                "'" + what + "': severity is one of critical, high, medium, low, info");
  }
  if (plain && field == MatchField::category && !protocol::parse_category(m.value)) {
    return fail(ErrorCode::invalid_argument,
                "'" + what +
                    "': category is one of authentication, database, api, performance, "
                    "integration, resource, configuration, network");
  }
  if (!plain) {
    RE2::Options options;
    options.set_log_errors(false);
    auto compiled = std::make_shared<const RE2>(m.value, options);
    if (!compiled->ok()) {
      return fail(ErrorCode::invalid_argument,
                  "'" + what + "': the regex is not RE2 syntax: " + compiled->error());
    }
    m.regex = std::move(compiled);
  }
  return m;
}

Result<Matcher> parse_label_matcher(std::string_view text) {
  // The first operator after a non-empty name: "!=" and "!~" before "=~" before "=".
  const auto at = text.find_first_of("=!");
  if (at == std::string_view::npos || at == 0) {
    return fail(ErrorCode::invalid_argument,
                "label matcher '" + std::string(text) +
                    "' must be name=value, name!=value, name=~regex or name!~regex");
  }
  const std::string name(text.substr(0, at));
  const std::string_view rest = text.substr(at);
  for (const auto& [token, op] :
       {std::pair{"!=", MatchOp::not_equal}, std::pair{"!~", MatchOp::not_regex},
        std::pair{"=~", MatchOp::regex}, std::pair{"=", MatchOp::equal}}) {
    if (rest.starts_with(token)) {
      return make_matcher(MatchField::label, name, op,
                          std::string(rest.substr(std::string_view(token).size())));
    }
  }
  return fail(ErrorCode::invalid_argument,
              "label matcher '" + std::string(text) +
                  "' must be name=value, name!=value, name=~regex or name!~regex");
}

bool matches(const Matcher& matcher, const correlate::Incident& incident) {
  const std::string_view value = field_value(matcher, incident);
  switch (matcher.op) {
  case MatchOp::equal: return value == matcher.value;
  case MatchOp::not_equal: return value != matcher.value;
  case MatchOp::regex: return matcher.regex && RE2::FullMatch(value, *matcher.regex);
  case MatchOp::not_regex: return matcher.regex && !RE2::FullMatch(value, *matcher.regex);
  case MatchOp::at_least: {
    const auto floor = protocol::parse_severity(matcher.value);
    // Severity runs from critical (0) to info (4): "or worse" is "or lower".
    return floor && static_cast<int>(incident.severity) <= static_cast<int>(*floor);
  }
  }
  return false;
}

std::string describe(const Matcher& matcher) {
  const std::string_view name =
      matcher.field == MatchField::label ? matcher.name : to_string(matcher.field);
  return std::string(name) + std::string(to_string(matcher.op)) + matcher.value;
}

std::string describe(const std::vector<Matcher>& matchers) {
  std::string out;
  for (const auto& matcher : matchers) {
    out += (out.empty() ? "" : ", ") + describe(matcher);
  }
  return out;
}

nlohmann::json matchers_to_json(const std::vector<Matcher>& matchers) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : matchers) {
    nlohmann::json item{{"field", to_string(m.field)}, {"op", to_string(m.op)}, {"value", m.value}};
    if (m.field == MatchField::label) {
      item["name"] = m.name;
    }
    list.push_back(std::move(item));
  }
  return list;
}

Result<std::vector<Matcher>> matchers_from_json(const nlohmann::json& list) {
  if (!list.is_array()) {
    return fail(ErrorCode::invalid_argument, "\"matchers\" must be a list");
  }
  if (list.size() > k_max_matchers) {
    return fail(ErrorCode::invalid_argument,
                "a silence takes at most " + std::to_string(k_max_matchers) + " matchers");
  }
  std::vector<Matcher> out;
  for (const auto& item : list) {
    if (!item.is_object()) {
      return fail(ErrorCode::invalid_argument, "each matcher must be an object");
    }
    auto field_text = string_of(item, "field");
    auto op_text = field_text ? string_of(item, "op") : field_text;
    auto value = op_text ? string_of(item, "value") : op_text;
    if (!value) {
      return fail(std::move(value).error());
    }
    const auto field = std::find_if(k_fields.begin(), k_fields.end(),
                                    [&](const auto& entry) { return entry.first == *field_text; });
    const auto op = std::find_if(k_ops.begin(), k_ops.end(),
                                 [&](const auto& entry) { return entry.first == *op_text; });
    if (field == k_fields.end()) {
      return fail(ErrorCode::invalid_argument,
                  "matcher field '" + *field_text +
                      "' is not one of host, service, rule, category, severity, label");
    }
    if (op == k_ops.end()) {
      return fail(ErrorCode::invalid_argument,
                  "matcher op '" + *op_text + "' is not one of =, !=, =~, !~, >=");
    }
    std::string name;
    if (field->second == MatchField::label) {
      auto label = string_of(item, "name");
      if (!label) {
        return fail(std::move(label).error());
      }
      name = std::move(*label);
    }
    auto matcher = make_matcher(field->second, std::move(name), op->second, std::move(*value));
    if (!matcher) {
      return fail(std::move(matcher).error());
    }
    out.push_back(std::move(*matcher));
  }
  return out;
}

Result<void> check_new_silence(const Silence& silence, std::int64_t now_ms) {
  if (silence.matchers.empty()) {
    return fail(ErrorCode::invalid_argument,
                "a silence needs at least one matcher (--host, --service, --rule, --category, "
                "--severity or --label)");
  }
  if (silence.comment.empty()) {
    return fail(ErrorCode::invalid_argument,
                "a silence needs a comment saying why (--comment \"...\")");
  }
  if (silence.comment.size() > k_max_comment_bytes) {
    return fail(ErrorCode::invalid_argument,
                "the comment is longer than " + std::to_string(k_max_comment_bytes) + " bytes");
  }
  if (silence.ends_ms <= now_ms) {
    return fail(ErrorCode::invalid_argument,
                "the silence would end in the past; give a later --until or a --duration");
  }
  if (silence.ends_ms <= silence.starts_ms) {
    return fail(ErrorCode::invalid_argument, "the silence must end after it starts");
  }
  return {};
}

SilenceState state_of(const Silence& silence, std::int64_t now_ms) noexcept {
  if (silence.expired_ms != 0 || silence.ends_ms <= now_ms) {
    return SilenceState::expired;
  }
  return silence.starts_ms > now_ms ? SilenceState::pending : SilenceState::active;
}

bool silences(const Silence& silence, const correlate::Incident& incident, std::int64_t now_ms) {
  if (state_of(silence, now_ms) != SilenceState::active || silence.matchers.empty()) {
    return false;
  }
  return std::all_of(silence.matchers.begin(), silence.matchers.end(),
                     [&](const Matcher& m) { return matches(m, incident); });
}

nlohmann::json silence_json(const Silence& silence, std::int64_t now_ms) {
  return {{"id", silence.id},
          {"matchers", matchers_to_json(silence.matchers)},
          {"match", describe(silence.matchers)},
          {"starts_ms", silence.starts_ms},
          {"ends_ms", silence.ends_ms},
          {"created_by", silence.created_by},
          {"created_ms", silence.created_ms},
          {"comment", silence.comment},
          {"expired_ms", silence.expired_ms},
          {"expired_by", silence.expired_by},
          {"state", to_string(state_of(silence, now_ms))}};
}

std::string new_silence_id() {
  std::random_device random;
  std::array<std::uint32_t, 4> words{};
  for (auto& word : words) {
    word = random();
  }
  words[1] = (words[1] & 0xffff0fffU) | 0x00004000U; // version 4
  words[2] = (words[2] & 0x3fffffffU) | 0x80000000U; // RFC 4122 variant
  char text[40];
  std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%04x%08x", words[0], words[1] >> 16,
                words[1] & 0xffffU, words[2] >> 16, words[2] & 0xffffU, words[3]);
  return text;
}

} // namespace medic::coordinator::escalate
