// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/utf8.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace medic::agent::tail {

namespace {

constexpr std::uint64_t k_high_bits = 0x8080808080808080ULL;
constexpr std::uint64_t k_low_bits = 0x0101010101010101ULL;
constexpr char k_replacement[] = "\xEF\xBF\xBD";
constexpr std::size_t k_replacement_size = 3;

// True when the 8 bytes at `p` are all ASCII and none is NUL.
bool clean_ascii_word(const char* p) noexcept {
  std::uint64_t word = 0;
  std::memcpy(&word, p, sizeof word);
  const bool has_high = (word & k_high_bits) != 0;
  const bool has_zero = ((word - k_low_bits) & ~word & k_high_bits) != 0;
  return !has_high && !has_zero;
}

struct Decoded {
  std::size_t length = 0; // bytes of a valid character, 0 when invalid
  std::size_t bad = 0;    // bytes of the maximal invalid subpart when invalid
};

// Decodes the character at text[at]; text[at] is not ASCII.
Decoded decode(std::string_view text, std::size_t at) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[at + i]); };
  const unsigned char lead = byte(0);
  std::size_t need = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    low = lead == 0xE0 ? 0xA0 : 0x80;  // overlong
    high = lead == 0xED ? 0x9F : 0xBF; // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    low = lead == 0xF0 ? 0x90 : 0x80;  // overlong
    high = lead == 0xF4 ? 0x8F : 0xBF; // past U+10FFFF
  } else {
    return Decoded{0, 1};
  }
  for (std::size_t i = 1; i <= need; ++i) {
    if (at + i >= text.size()) {
      return Decoded{0, i};
    }
    const unsigned char next = byte(i);
    const unsigned char lo = i == 1 ? low : 0x80;
    const unsigned char hi = i == 1 ? high : 0xBF;
    if (next < lo || next > hi) {
      return Decoded{0, i};
    }
  }
  return Decoded{need + 1, 0};
}

} // namespace

bool is_ascii_text(std::string_view text) noexcept {
  std::size_t at = 0;
#if defined(__SSE2__)
  // 64 bytes a step: OR the bytes (a high bit means non-ASCII) and their compares with zero.
  constexpr std::size_t k_step = 64;
  const __m128i zero = _mm_setzero_si128();
  for (; at + k_step <= text.size(); at += k_step) {
    __m128i seen = zero;
    for (std::size_t i = 0; i < k_step; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + at + i));
      seen = _mm_or_si128(seen, _mm_or_si128(v, _mm_cmpeq_epi8(v, zero)));
    }
    if (_mm_movemask_epi8(seen) != 0) {
      return false;
    }
  }
#endif
  for (; at + 8 <= text.size(); at += 8) {
    if (!clean_ascii_word(text.data() + at)) {
      return false;
    }
  }
  for (; at < text.size(); ++at) {
    const auto c = static_cast<unsigned char>(text[at]);
    if (c == 0 || c >= 0x80) {
      return false;
    }
  }
  return true;
}

bool is_clean_utf8(std::string_view text) noexcept {
  std::size_t at = 0;
  while (at < text.size()) {
    if (at + 8 <= text.size() && clean_ascii_word(text.data() + at)) {
      at += 8;
      continue;
    }
    const auto c = static_cast<unsigned char>(text[at]);
    if (c == 0) {
      return false;
    }
    if (c < 0x80) {
      ++at;
      continue;
    }
    const Decoded decoded = decode(text, at);
    if (decoded.length == 0) {
      return false;
    }
    at += decoded.length;
  }
  return true;
}

Utf8Repair repair_utf8(std::string_view text, std::span<char> out) noexcept {
  Utf8Repair result;
  std::size_t at = 0;
  const auto put = [&](const char* bytes, std::size_t count) {
    if (result.size + count > out.size()) {
      result.truncated = true;
      return false;
    }
    std::memcpy(out.data() + result.size, bytes, count);
    result.size += count;
    return true;
  };
  while (at < text.size()) {
    const auto c = static_cast<unsigned char>(text[at]);
    if (c == 0) {
      ++result.nul_dropped;
      ++at;
      continue;
    }
    if (c < 0x80) {
      if (!put(text.data() + at, 1)) {
        break;
      }
      ++at;
      continue;
    }
    const Decoded decoded = decode(text, at);
    if (decoded.length != 0) {
      if (!put(text.data() + at, decoded.length)) {
        break;
      }
      at += decoded.length;
      continue;
    }
    if (!put(k_replacement, k_replacement_size)) {
      break;
    }
    ++result.replaced;
    at += decoded.bad;
  }
  return result;
}

std::size_t utf8_cut(std::string_view text, std::size_t limit) noexcept {
  if (limit >= text.size()) {
    return text.size();
  }
  const auto is_continuation = [&](std::size_t i) {
    return (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
  };
  if (!is_continuation(limit)) {
    return limit;
  }
  // Walk back to the lead byte of the character that text[limit] continues (at most 3 back).
  for (std::size_t back = 1; back <= 3 && back <= limit; ++back) {
    const std::size_t at = limit - back;
    if (!is_continuation(at)) {
      return static_cast<unsigned char>(text[at]) >= 0xC0 ? at : limit;
    }
  }
  return limit;
}

} // namespace medic::agent::tail
