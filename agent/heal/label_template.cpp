// SPDX-License-Identifier: Apache-2.0
#include "agent/heal/label_template.hpp"

#include <algorithm>

namespace medic::agent::heal {

namespace {

constexpr std::string_view k_open = "{label:";

bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// One piece of a template: literal text, or the name of a label to insert.
struct Piece {
  std::string_view text;
  bool is_label = false;
};

// Reads the piece at `pos` and advances it; an error names the byte offset.
Result<Piece> next_piece(std::string_view templ, std::size_t& pos) {
  const char c = templ[pos];
  if (c == '}' || (c == '{' && templ.substr(pos, 2) == "{{")) {
    if (templ.substr(pos, 2) != (c == '{' ? "{{" : "}}")) {
      return fail(ErrorCode::config,
                  "stray '}' at byte " + std::to_string(pos) + " (write '}}' for a literal brace)");
    }
    pos += 2;
    return Piece{templ.substr(pos - 1, 1), false};
  }
  if (c == '{') {
    if (templ.substr(pos, k_open.size()) != k_open) {
      return fail(ErrorCode::config, "'{' at byte " + std::to_string(pos) +
                                         " does not start '{label:NAME}' (write '{{' for a "
                                         "literal brace)");
    }
    const std::size_t name_start = pos + k_open.size();
    const std::size_t close = templ.find('}', name_start);
    if (close == std::string_view::npos) {
      return fail(ErrorCode::config, "'{label:' at byte " + std::to_string(pos) + " has no '}'");
    }
    const std::string_view name = templ.substr(name_start, close - name_start);
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_name_char)) {
      return fail(ErrorCode::config, "'{label:...}' at byte " + std::to_string(pos) +
                                         " needs a label name of letters, digits, '_', '.', '-'");
    }
    pos = close + 1;
    return Piece{name, true};
  }
  const std::size_t end = templ.find_first_of("{}", pos);
  const std::size_t stop = end == std::string_view::npos ? templ.size() : end;
  Piece piece{templ.substr(pos, stop - pos), false};
  pos = stop;
  return piece;
}

} // namespace

Result<void> check_label_template(std::string_view templ) {
  std::size_t pos = 0;
  while (pos < templ.size()) {
    if (auto piece = next_piece(templ, pos); !piece) {
      return fail(std::move(piece).error());
    }
  }
  return {};
}

Result<std::string> expand_label_template(std::string_view templ,
                                          std::span<const protocol::Label> labels) {
  std::string out;
  out.reserve(templ.size());
  std::size_t pos = 0;
  while (pos < templ.size()) {
    auto piece = next_piece(templ, pos);
    if (!piece) {
      return fail(std::move(piece).error());
    }
    if (!piece->is_label) {
      out.append(piece->text);
      continue;
    }
    const auto label = std::find_if(labels.begin(), labels.end(), [&](const protocol::Label& l) {
      return l.name == piece->text;
    });
    if (label == labels.end()) {
      return fail(ErrorCode::invalid_argument,
                  "the signal has no label '" + std::string(piece->text) + "'");
    }
    out.append(label->value);
  }
  return out;
}

} // namespace medic::agent::heal
