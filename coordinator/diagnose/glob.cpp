// SPDX-License-Identifier: Apache-2.0
#include "coordinator/diagnose/glob.hpp"

namespace medic::coordinator::diagnose {

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Greedy with one backtrack point: the last '*' seen absorbs one more character whenever the
  // rest fails. Linear in practice, O(n·m) at worst, no recursion.
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      if (p + 1 == pattern.size()) {
        return true; // a trailing '*' takes the rest, whatever it is
      }
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

bool glob_any(std::span<const std::string> patterns, std::string_view text) noexcept {
  for (const auto& pattern : patterns) {
    if (glob_match(pattern, text)) {
      return true;
    }
  }
  return false;
}

bool canonical_label(std::string_view canonical, std::string_view name,
                     std::string_view& value) noexcept {
  while (!canonical.empty()) {
    const std::size_t comma = canonical.find(',');
    const std::string_view pair = canonical.substr(0, comma);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
      value = pair.substr(equals + 1);
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    canonical.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace medic::coordinator::diagnose
