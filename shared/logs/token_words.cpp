// SPDX-License-Identifier: Apache-2.0
#include "shared/logs/token_words.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace medic::logs {

namespace {

// Unit words that may follow a number, lower case. No single letters but "s": "3 b" or "2 d"
// are as likely to be words as units.
constexpr std::array<std::string_view, 29> k_units = {
    "kb",   "mb",     "gb",      "tb", "pb",  "kib",  "mib",   "gib",    "tib",     "bytes",
    "byte", "ms",     "us",      "ns", "s",   "sec",  "secs",  "second", "seconds", "min",
    "mins", "minute", "minutes", "hr", "hrs", "hour", "hours", "days",   "%"};

// Up to 8 bytes, lower-cased, packed little-endian into a word: unit words compare as integers.
constexpr std::uint64_t pack_lower(std::string_view word) noexcept {
  std::uint64_t packed = 0;
  for (std::size_t i = 0; i < word.size() && i < 8; ++i) {
    const char c = word[i];
    const char folded = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    packed |= std::uint64_t{static_cast<unsigned char>(folded)} << (8 * i);
  }
  return packed;
}

constexpr auto k_packed_units = [] {
  std::array<std::uint64_t, k_units.size()> packed{};
  for (std::size_t i = 0; i < k_units.size(); ++i) {
    packed[i] = pack_lower(k_units[i]);
  }
  return packed;
}();

// Names of months and weekdays, as dates spell them: a date is a variable however it is written.
constexpr std::array<std::string_view, 38> k_date_words = {
    "Jan",       "Feb",      "Mar",       "Apr",      "May",      "Jun",      "Jul",    "Aug",
    "Sep",       "Oct",      "Nov",       "Dec",      "Mon",      "Tue",      "Wed",    "Thu",
    "Fri",       "Sat",      "Sun",       "January",  "February", "March",    "April",  "June",
    "July",      "August",   "September", "October",  "November", "December", "Monday", "Tuesday",
    "Wednesday", "Thursday", "Friday",    "Saturday", "Sunday",   "Sept"};

// Time zones that follow a time like a unit ("19:02:14 EST 2004").
constexpr std::array<std::string_view, 12> k_time_zones = {
    "UTC", "GMT", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "CET", "CEST"};

} // namespace

bool is_unit(std::string_view word) noexcept {
  if (word.empty() || word.size() > 7) {
    return false;
  }
  if (word == "B") { // bytes; a lower-case "b" is as likely a word
    return true;
  }
  const std::uint64_t key = pack_lower(word);
  return std::find(k_packed_units.begin(), k_packed_units.end(), key) != k_packed_units.end();
}

// Title case or upper case: "Jul", "JUL"; not "jul", which may be part of a word.
bool is_date_word(std::string_view word) noexcept {
  if (word.size() < 3 || word.size() > 9 || word[0] < 'A' || word[0] > 'Z') {
    return false;
  }
  // Every name starts with one of these letters: most capitalised words (INFO, ERROR, User)
  // stop here, before the names are compared.
  constexpr std::uint32_t k_first_letters = [] {
    std::uint32_t letters = 0;
    for (const std::string_view name : k_date_words) {
      letters |= std::uint32_t{1} << (name[0] - 'A');
    }
    return letters;
  }();
  if ((k_first_letters & (std::uint32_t{1} << (word[0] - 'A'))) == 0) {
    return false;
  }
  const bool upper = word[1] >= 'A' && word[1] <= 'Z';
  for (const std::string_view name : k_date_words) {
    if (name.size() != word.size()) {
      continue;
    }
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i) {
      const char want = upper && i > 0 ? static_cast<char>(name[i] - 'a' + 'A') : name[i];
      same = word[i] == want;
    }
    if (same) {
      return true;
    }
  }
  return false;
}

bool is_time_zone(std::string_view word) noexcept {
  return std::find(k_time_zones.begin(), k_time_zones.end(), word) != k_time_zones.end();
}

} // namespace medic::logs
