// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/text_scan.hpp"

#include <charconv>
#include <string>

namespace medic::agent::sample {

bool LineCursor::next(std::string_view& line) noexcept {
  if (m_done || m_rest.empty()) {
    m_done = true;
    return false;
  }
  const std::size_t end = m_rest.find('\n');
  line = m_rest.substr(0, end);
  if (end == std::string_view::npos) {
    m_rest = {};
  } else {
    m_rest.remove_prefix(end + 1);
  }
  ++m_line;
  return true;
}

std::string_view next_token(std::string_view& rest) noexcept {
  std::size_t start = 0;
  while (start < rest.size() && is_blank(rest[start])) {
    ++start;
  }
  std::size_t end = start;
  while (end < rest.size() && !is_blank(rest[end])) {
    ++end;
  }
  const std::string_view token = rest.substr(start, end - start);
  rest.remove_prefix(end);
  return token;
}

std::string_view trim_blanks(std::string_view text) noexcept {
  while (!text.empty() && is_blank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_blank(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

namespace {

template <class Number>
bool parse_whole(std::string_view token, Number& value) noexcept {
  if (token.empty()) {
    return false;
  }
  const char* const end = token.data() + token.size();
  const auto [parsed_to, error] = std::from_chars(token.data(), end, value);
  return error == std::errc{} && parsed_to == end;
}

} // namespace

bool parse_u64(std::string_view token, std::uint64_t& value) noexcept {
  return parse_whole(token, value);
}

bool parse_i64(std::string_view token, std::int64_t& value) noexcept {
  return parse_whole(token, value);
}

bool parse_double(std::string_view token, double& value) noexcept {
  return parse_whole(token, value);
}

Error line_error(std::string_view file, std::size_t line, std::string_view what) {
  std::string message(file);
  message += ": line ";
  message += std::to_string(line);
  message += ": ";
  message += what;
  return Error(ErrorCode::invalid_argument, std::move(message));
}

std::optional<std::uint64_t> counter_delta(std::uint64_t before, std::uint64_t after) noexcept {
  if (after >= before) {
    return after - before;
  }
  if (before < k_counter_wrap_32) {
    const std::uint64_t wrapped = k_counter_wrap_32 - before + after;
    if (wrapped < k_counter_wrap_32 / 2) {
      return wrapped;
    }
  }
  return std::nullopt;
}

bool glob_match(std::string_view pattern, std::string_view name) noexcept {
  // Greedy match with one backtrack point (the last '*'): linear in practice, no recursion.
  std::size_t p = 0;
  std::size_t n = 0;
  std::size_t star = std::string_view::npos;
  std::size_t star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

bool glob_match_any(std::span<const std::string> patterns, std::string_view name) noexcept {
  for (const std::string& pattern : patterns) {
    if (glob_match(pattern, name)) {
      return true;
    }
  }
  return false;
}

std::string_view label_value(std::string_view text) noexcept {
  if (text.size() <= k_max_label_value_bytes) {
    return text;
  }
  std::size_t cut = k_max_label_value_bytes;
  // Back off UTF-8 continuation bytes so the cut never splits a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  return text.substr(0, cut);
}

Result<void> check_label_name(std::string_view field, std::string_view name) {
  constexpr std::size_t k_max_name_bytes = 128;
  if (name.empty()) {
    return fail(ErrorCode::config, std::string(field) + ": must not be empty");
  }
  if (name.size() > k_max_name_bytes) {
    return fail(ErrorCode::config, std::string(field) + ": '" + std::string(name) +
                                       "' is longer than " + std::to_string(k_max_name_bytes) +
                                       " bytes");
  }
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20U || byte == 0x7FU) {
      return fail(ErrorCode::config, std::string(field) + ": contains a control character");
    }
  }
  return {};
}

} // namespace medic::agent::sample
