// SPDX-License-Identifier: Apache-2.0
#include "shared/logs/token_masker.hpp"

#include <algorithm>
#include <cstring>

#include "shared/logs/token_words.hpp"

namespace medic::logs {

namespace {

// Bytes of a line that are looked at; longer lines are mined on their head only, which keeps
// the offsets in 32 bits and the scratch buffer bounded.
constexpr std::size_t k_max_line_bytes = std::size_t{64} * 1024;
constexpr std::size_t k_min_hex_length = 5;
// Tokens up to this size get room for the worst case of masking (3 bytes per byte) unmeasured.
constexpr std::size_t k_room_without_counting = 256;

enum CharClass : std::uint8_t {
  k_space = 1,      // whitespace and configured delimiters
  k_digit = 2,      // 0-9
  k_hex_alpha = 4,  // a-f A-F
  k_alpha = 8,      // letters
  k_separator = 16, // splits a token into segments that are masked one by one
  k_sign = 32,      // may lead a number: - + < > ~
  k_non_hex = 64,   // letters g-z G-Z
  k_path = 128,     // / \\ . may make a token a path, a file name or a dotted name
};

constexpr std::string_view k_separators = "=:,/@#()[]{}|;\"'";
constexpr std::string_view k_signs = "-+<>~";

std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

using Classes = std::array<std::uint8_t, 256>;

std::uint8_t class_of(const Classes& classes, char c) noexcept {
  return classes[static_cast<unsigned char>(c)];
}

// 0x1f, or at least k_min_hex_length of hex digits and dashes with one decimal digit or more:
// hashes, addresses, UUIDs, dates like 2016-09-28. `seen` is the OR of the segment's classes.
bool is_hex_like(const Classes& classes, std::string_view seg, std::uint8_t seen) noexcept {
  if (seg.size() > 2 && seg[0] == '0' && (seg[1] == 'x' || seg[1] == 'X')) {
    return std::all_of(seg.begin() + 2, seg.end(), [&](char c) {
      return (class_of(classes, c) & (k_digit | k_hex_alpha)) != 0;
    });
  }
  if (seg.size() < k_min_hex_length || (seen & k_digit) == 0 || (seen & k_non_hex) != 0) {
    return false;
  }
  return std::all_of(seg.begin(), seg.end(), [&](char c) {
    return (class_of(classes, c) & (k_digit | k_hex_alpha)) != 0 || c == '-';
  });
}

// 200ms, 1.5s, 10MB, -3%: a number whose suffix is a unit word.
bool is_number_with_unit(const Classes& classes, std::string_view seg) noexcept {
  const char last = seg.back();
  if ((class_of(classes, last) & k_alpha) == 0 && last != '%') {
    return false;
  }
  std::size_t i = (class_of(classes, seg[0]) & k_sign) != 0 ? 1 : 0;
  const std::size_t digits_from = i;
  while (i < seg.size() && ((class_of(classes, seg[i]) & k_digit) != 0 || seg[i] == '.')) {
    ++i;
  }
  if (i == digits_from || (class_of(classes, seg[digits_from]) & k_digit) == 0) {
    return false;
  }
  return is_unit(std::string_view(seg.data() + i, seg.size() - i));
}

} // namespace

// One multiply per 8 bytes and a final mix: tokens are short, and this runs for every token of
// every line. Not meant to resist crafted collisions; see template_miner.hpp.
std::uint64_t hash_token(std::string_view text) noexcept {
  constexpr std::uint64_t k_multiplier = 0x9fb21c651e98df25ULL;
  std::uint64_t h = 0x9e3779b97f4a7c15ULL * (text.size() + 1);
  const char* p = text.data();
  std::size_t left = text.size();
  while (left >= 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, 8);
    h = (h ^ word) * k_multiplier;
    h ^= h >> 29;
    p += 8;
    left -= 8;
  }
  // The tail is read with fixed-size loads (overlapping the words above when there were
  // some), so that no variable-length memcpy call lands on the hot path.
  std::uint64_t word = 0;
  if (left > 0 && text.size() >= 8) {
    std::memcpy(&word, text.data() + text.size() - 8, 8);
  } else if (left >= 4) {
    std::uint32_t low = 0;
    std::uint32_t high = 0;
    std::memcpy(&low, p, 4);
    std::memcpy(&high, p + left - 4, 4);
    word = low | (std::uint64_t{high} << 32);
  } else if (left > 0) {
    word = static_cast<unsigned char>(p[0]) |
           (std::uint64_t{static_cast<unsigned char>(p[left / 2])} << 8) |
           (std::uint64_t{static_cast<unsigned char>(p[left - 1])} << 16);
  }
  return mix((h ^ word) * k_multiplier);
}

TokenMasker::TokenMasker(TokenMaskerOptions options) : m_options(std::move(options)) {
  m_options.max_tokens = std::max<std::size_t>(m_options.max_tokens, 2);
  for (unsigned c = 0; c < 256; ++c) {
    std::uint8_t flags = 0;
    if (c == ' ' || (c >= '\t' && c <= '\r')) {
      flags |= k_space;
    }
    if (c >= '0' && c <= '9') {
      flags |= k_digit;
    }
    if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      flags |= k_hex_alpha;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      flags |= k_alpha;
      flags |= (flags & k_hex_alpha) == 0 ? k_non_hex : 0;
    }
    m_classes[c] = flags;
  }
  for (const char c : k_separators) {
    m_classes[static_cast<unsigned char>(c)] |= k_separator;
  }
  for (const char c : k_signs) {
    m_classes[static_cast<unsigned char>(c)] |= k_sign;
  }
  for (const char c : std::string_view("/\\.")) {
    m_classes[static_cast<unsigned char>(c)] |= k_path;
  }
  for (const char c : m_options.extra_delimiters) {
    m_classes[static_cast<unsigned char>(c)] = k_space;
  }
  m_wildcard_hash = hash_token(k_wildcard);
  m_pending.reserve(m_options.max_tokens + 1);
  m_tokens.reserve(m_options.max_tokens + 1);
}

std::span<const MaskedToken> TokenMasker::tokenize(std::string_view line) {
  const std::size_t n = std::min(line.size(), k_max_line_bytes);
  const char* const text = line.data();
  line = std::string_view(text, n);
  m_pending.clear();
  m_scratch.truncate(0);
  std::size_t i = 0;
  while (i < n) {
    while (i < n && (class_of(text[i]) & k_space) != 0) {
      ++i;
    }
    if (i == n) {
      break;
    }
    if (m_pending.size() == m_options.max_tokens) {
      // One more token than allowed: the last kept token stands for the whole rest.
      m_pending.pop_back();
      push_tail();
      break;
    }
    const std::size_t begin = i;
    std::uint8_t seen = 0;
    for (; i < n; ++i) {
      const std::uint8_t flags = class_of(text[i]);
      if ((flags & k_space) != 0) {
        break;
      }
      seen |= flags;
    }
    push_token(line, begin, i, seen);
  }
  m_tokens.clear();
  for (const Pending& p : m_pending) {
    const std::string_view token =
        p.in_scratch ? m_scratch.view(p.offset, p.size) : std::string_view(text + p.offset, p.size);
    // A plain variable is always the text `<*>`, whose hash is known.
    const std::uint64_t hash = p.is_variable ? m_wildcard_hash : hash_token(token);
    m_tokens.push_back(MaskedToken{token, hash, p.has_variable, p.is_variable, p.kind});
  }
  return m_tokens;
}

// A path (a/b, a\\b) or a dotted name (a.b, file.txt); a dot at either end does not count.
bool TokenMasker::is_path_like(std::string_view token) const noexcept {
  const auto alnum = [&](std::size_t at) {
    return (class_of(token[at]) & (k_alpha | k_digit)) != 0;
  };
  for (std::size_t i = 0; i < token.size(); ++i) {
    const char c = token[i];
    if (c == '/' || c == '\\' ||
        (c == '.' && i > 0 && i + 1 < token.size() && alnum(i - 1) && alnum(i + 1))) {
      return true;
    }
  }
  return false;
}

// The token without leading '(' and trailing punctuation: "(1.16 KB)" -> "KB", "Jul," -> "Jul".
std::string_view TokenMasker::core_word(std::string_view token) const noexcept {
  std::size_t end = token.size();
  while (end > 0 && (class_of(token[end - 1]) & k_alpha) == 0 && token[end - 1] != '%') {
    --end;
  }
  std::size_t begin = 0;
  while (begin < end && token[begin] == '(') {
    ++begin;
  }
  return {token.data() + begin, end - begin};
}

// What is_date_word(core_word(token)) needs first: a capital letter after any '(' (most words
// are lower case, and never get to the word lists).
bool TokenMasker::may_be_date_word(std::string_view token) const noexcept {
  std::size_t at = 0;
  while (at < token.size() && token[at] == '(') {
    ++at;
  }
  return at < token.size() && token[at] >= 'A' && token[at] <= 'Z';
}

bool TokenMasker::absorbed_as_unit(std::string_view token) const noexcept {
  if (m_pending.empty() || !m_pending.back().is_variable) {
    return false;
  }
  const std::string_view core = core_word(token);
  return is_unit(core) || is_time_zone(core);
}

void TokenMasker::push_token(std::string_view line, std::size_t begin, std::size_t end,
                             std::uint8_t seen) {
  const bool has_digit = (seen & k_digit) != 0;
  const std::string_view token(line.data() + begin, end - begin);
  if (!m_options.mask_variables || !has_digit) {
    if (m_options.mask_variables && absorbed_as_unit(token)) {
      return;
    }
    if (m_options.mask_variables && may_be_date_word(token) && is_date_word(core_word(token))) {
      if (m_pending.empty() || !m_pending.back().is_variable) {
        push_tail(); // a month or a weekday: part of a date, joining a variable before it
      }
      return;
    }
    // A word unless it is a path or a dotted name, or has no letter at all (digits only get
    // here when masking is off).
    const bool path = has_digit || ((seen & k_path) != 0 && is_path_like(token));
    const TokenKind kind = path                    ? TokenKind::value
                           : (seen & k_alpha) != 0 ? TokenKind::word
                                                   : TokenKind::symbol;
    m_pending.push_back(Pending{static_cast<std::uint32_t>(begin),
                                static_cast<std::uint32_t>(token.size()), false, false, false,
                                kind});
    return;
  }
  if (seen == k_digit) {
    // A plain number, the most common variable: one `<*>`, joining a variable just before.
    if (m_pending.empty() || !m_pending.back().is_variable) {
      push_tail();
    }
    return;
  }
  push_masked(token);
}

// The same masked shape again right after itself (blk_<*> blk_<*>, an<*> an<*>) is a list:
// it is kept once, whatever the number of items. The new shape is m_scratch[offset, +size),
// written but not yet committed.
bool TokenMasker::repeats_last(std::size_t offset, std::size_t size) const noexcept {
  if (m_pending.empty() || !m_pending.back().in_scratch || m_pending.back().is_variable) {
    return false;
  }
  const Pending& last = m_pending.back();
  return m_scratch.view(last.offset, last.size) == m_scratch.view(offset, size);
}

void TokenMasker::push_tail() {
  const auto offset = static_cast<std::uint32_t>(m_scratch.size());
  m_scratch.append(k_wildcard);
  m_pending.push_back(Pending{offset, static_cast<std::uint32_t>(k_wildcard.size()), true, true,
                              true, TokenKind::value});
}

namespace {

char* put_wildcard(char* out) noexcept {
  std::memcpy(out, k_wildcard.data(), k_wildcard.size());
  return out + k_wildcard.size();
}

} // namespace

// Writes the segment with every run of digits (with inner dots, and a leading sign that does not
// follow a letter or digit) replaced by <*>, the bytes between runs as they are. A run starts
// with a digit or holds one after its sign, and becomes 3 bytes: at most 2 more than it had.
char* TokenMasker::write_digit_runs(std::string_view seg, char* out) const noexcept {
  const char* const p = seg.data();
  const std::size_t n = seg.size();
  const auto digit_at = [&](std::size_t at) { return at < n && (class_of(p[at]) & k_digit) != 0; };
  std::size_t k = 0;
  while (k < n) {
    const std::uint8_t flags = class_of(p[k]);
    const bool after_word = k > 0 && (class_of(p[k - 1]) & (k_alpha | k_digit)) != 0;
    if ((flags & k_digit) == 0 && ((flags & k_sign) == 0 || after_word || !digit_at(k + 1))) {
      *out++ = p[k++];
      continue;
    }
    ++k;
    while (digit_at(k) || (k + 1 < n && p[k] == '.' && digit_at(k + 1))) {
      ++k;
    }
    out = put_wildcard(out);
  }
  return out;
}

// Writes the masked token at `out`, which has room for its size and 2 bytes more per run of
// digits, and returns the end of what it wrote; `literal` tells whether a letter was kept (the
// token is then not a plain variable).
char* TokenMasker::write_masked(std::string_view token, char* out, bool& literal) const noexcept {
  const char* const p = token.data();
  const std::size_t n = token.size();
  std::size_t i = 0;
  while (i < n) {
    if ((class_of(p[i]) & k_separator) != 0) {
      *out++ = p[i++];
      continue;
    }
    std::uint8_t seen = 0;
    std::size_t j = i;
    for (; j < n; ++j) {
      const std::uint8_t flags = class_of(p[j]);
      if ((flags & k_separator) != 0) {
        break;
      }
      seen |= flags;
    }
    const std::string_view seg(p + i, j - i);
    i = j;
    // Digits only ever end up inside `<*>`, so letters are what keeps a segment literal. A
    // hex-like segment has 3 bytes or more, a number with a unit a digit and a letter or %: its
    // `<*>` is at most 2 bytes longer, and it holds a run of digits.
    if ((seen & k_digit) != 0 &&
        (is_hex_like(m_classes, seg, seen) || is_number_with_unit(m_classes, seg))) {
      out = put_wildcard(out);
      continue;
    }
    literal = literal || (seen & k_alpha) != 0;
    if ((seen & k_digit) == 0) {
      std::memcpy(out, seg.data(), seg.size());
      out += seg.size();
    } else {
      out = write_digit_runs(seg, out);
    }
  }
  return out;
}

// Room for the masked token: 2 bytes more than its size per run of digits. A short token gets
// 3 bytes per byte without counting; a long one (rare) is counted, so that the scratch buffer
// does not grow to three times the longest token.
std::size_t TokenMasker::masked_room(std::string_view token) const noexcept {
  if (token.size() <= k_room_without_counting) {
    return 3 * token.size();
  }
  std::size_t runs = 0;
  bool in_run = false;
  for (const char c : token) {
    const bool digit = (class_of(c) & k_digit) != 0;
    runs += digit && !in_run ? 1 : 0;
    in_run = digit;
  }
  return token.size() + 2 * runs;
}

// The masked text is written straight into m_scratch's room and kept only if it becomes a token.
void TokenMasker::push_masked(std::string_view token) {
  const std::size_t offset = m_scratch.size();
  char* const start = m_scratch.room(masked_room(token));
  bool literal = false;
  const auto size = static_cast<std::size_t>(write_masked(token, start, literal) - start);
  if (literal) {
    if (repeats_last(offset, size)) {
      return;
    }
    m_scratch.commit(size);
    m_pending.push_back(Pending{static_cast<std::uint32_t>(offset),
                                static_cast<std::uint32_t>(size), true, true, false,
                                TokenKind::value});
    return;
  }
  // Nothing but variables and punctuation: the token is one variable, and it joins the variable
  // before it if there is one.
  if (!m_pending.empty() && m_pending.back().is_variable) {
    return;
  }
  push_tail();
}

} // namespace medic::logs
