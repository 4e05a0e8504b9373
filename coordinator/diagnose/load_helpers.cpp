// SPDX-License-Identifier: Apache-2.0
// Scalar readers, key checks and parameter templates for the rule file reader.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "coordinator/diagnose/rule_loader.hpp"
#include "shared/config/units.hpp"

namespace medic::coordinator::diagnose::detail {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string suggestion(std::string_view key, const std::vector<std::string_view>& known) {
  std::string_view best;
  std::size_t best_distance = 3;
  for (const auto candidate : known) {
    if (const auto distance = edit_distance(key, candidate); distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)";
}

std::string_view node_kind(const YAML::Node& node) {
  return node.IsMap() ? "a mapping" : node.IsSequence() ? "a list" : "nothing";
}

bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// "{label:a|b}" → names; "{service}" etc. → their kinds. `body` is what the braces hold.
Result<TemplatePiece> placeholder(std::string_view body, std::size_t at) {
  using Kind = TemplatePiece::Kind;
  if (body == "service" || body == "host" || body == "agent") {
    return TemplatePiece{body == "service" ? Kind::service
                         : body == "host"  ? Kind::host
                                           : Kind::agent,
                         {},
                         {}};
  }
  const std::string where = " at byte " + std::to_string(at);
  if (!body.starts_with("label:")) {
    return fail(ErrorCode::config, "'{" + std::string(body) + "}'" + where +
                                       " is not {label:NAME}, {service}, {host} or {agent} "
                                       "(write '{{' for a literal brace)");
  }
  TemplatePiece piece{Kind::label, {}, {}};
  std::string_view names = body.substr(6);
  while (true) {
    const std::string_view name = names.substr(0, names.find('|'));
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_name_char)) {
      return fail(ErrorCode::config, "'{label:...}'" + where +
                                         " needs label names of letters, digits, '_', '.', '-' "
                                         "separated by '|'");
    }
    piece.names.emplace_back(name);
    if (name.size() == names.size()) {
      return piece;
    }
    names.remove_prefix(name.size() + 1);
  }
}

} // namespace

std::string LoadContext::position(const YAML::Node& node) const {
  std::string text(origin);
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) {
    text += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  return text;
}

Error LoadContext::error(const YAML::Node& node, std::string_view message) const {
  std::string text = position(node) + ": ";
  if (!rule_id.empty()) {
    text += "rule '" + rule_id + "': ";
  }
  text += message;
  return Error(ErrorCode::config, std::move(text));
}

Result<std::string> read_text(const YAML::Node& node, const LoadContext& context,
                              std::string_view what) {
  if (!node.IsScalar()) {
    return fail(context.error(
        node, std::string(what) + " must be a value, not " + std::string(node_kind(node))));
  }
  return node.Scalar();
}

Result<std::vector<std::string>> read_text_list(const YAML::Node& node, const LoadContext& context,
                                                std::string_view what) {
  std::vector<std::string> items;
  if (node.IsScalar()) {
    items.push_back(node.Scalar());
    return items;
  }
  if (!node.IsSequence() || node.size() == 0) {
    return fail(context.error(node, std::string(what) + " must be a value or a non-empty list"));
  }
  for (const auto& item : node) {
    auto text = read_text(item, context, what);
    if (!text) {
      return fail(std::move(text).error());
    }
    items.push_back(std::move(*text));
  }
  return items;
}

Result<double> read_number(const YAML::Node& node, const LoadContext& context,
                           std::string_view what) {
  auto text = read_text(node, context, what);
  if (!text) {
    return fail(std::move(text).error());
  }
  double value = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return fail(context.error(node, std::string(what) + " must be a number, got '" + *text + "'"));
  }
  return value;
}

Result<std::uint32_t> read_count(const YAML::Node& node, const LoadContext& context,
                                 std::string_view what) {
  auto text = read_text(node, context, what);
  if (!text) {
    return fail(std::move(text).error());
  }
  std::uint32_t value = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end) {
    return fail(context.error(node, std::string(what) + " must be a whole number 0.." +
                                        std::to_string(UINT32_MAX) + ", got '" + *text + "'"));
  }
  return value;
}

Result<std::int64_t> read_duration(const YAML::Node& node, const LoadContext& context,
                                   std::string_view what) {
  auto text = read_text(node, context, what);
  if (!text) {
    return fail(std::move(text).error());
  }
  auto duration = medic::config::parse_duration(*text);
  if (!duration) {
    return fail(context.error(node, std::string(what) + ": " + duration.error().message()));
  }
  return duration->count();
}

Result<void> check_keys(const YAML::Node& map, const std::vector<std::string_view>& known,
                        const LoadContext& context, std::string_view what) {
  if (!map.IsMap()) {
    return fail(context.error(map, std::string(what) + " must be a mapping, not " +
                                       (map.IsScalar() ? "a value" : std::string(node_kind(map)))));
  }
  std::vector<std::string> seen;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) {
      return fail(context.error(entry.first, "keys must be plain names"));
    }
    const std::string& key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return fail(context.error(entry.first, "unknown key '" + key + "' in " + std::string(what) +
                                                 suggestion(key, known)));
    }
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return fail(context.error(entry.first, "key '" + key + "' given twice"));
    }
    seen.push_back(key);
  }
  return {};
}

Result<std::vector<TemplatePiece>> compile_template(std::string_view text) {
  std::vector<TemplatePiece> pieces;
  std::string literal;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if ((c == '{' || c == '}') && pos + 1 < text.size() && text[pos + 1] == c) {
      literal += c;
      pos += 2;
    } else if (c == '}') {
      return fail(ErrorCode::config,
                  "stray '}' at byte " + std::to_string(pos) + " (write '}}' for a literal brace)");
    } else if (c == '{') {
      const std::size_t close = text.find('}', pos);
      if (close == std::string_view::npos) {
        return fail(ErrorCode::config, "'{' at byte " + std::to_string(pos) + " has no '}'");
      }
      auto piece = placeholder(text.substr(pos + 1, close - pos - 1), pos);
      if (!piece) {
        return fail(std::move(piece).error());
      }
      if (!literal.empty()) {
        pieces.push_back({TemplatePiece::Kind::text, std::exchange(literal, {}), {}});
      }
      pieces.push_back(std::move(*piece));
      pos = close + 1;
    } else {
      literal += c;
      ++pos;
    }
  }
  if (!literal.empty() || pieces.empty()) {
    pieces.push_back({TemplatePiece::Kind::text, std::move(literal), {}});
  }
  return pieces;
}

} // namespace medic::coordinator::diagnose::detail
