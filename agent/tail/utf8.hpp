// SPDX-License-Identifier: Apache-2.0
// Making log bytes safe to hand out: whatever a file holds, records are valid UTF-8 with no NUL.
// Each maximal invalid subsequence (Unicode's "substitution of maximal subparts": a bad lead
// byte, a truncated sequence, an overlong form, a surrogate, a code point past U+10FFFF) becomes
// one U+FFFD; NUL bytes are dropped (files pre-allocated or left with holes after a crash are
// full of them). Pure functions, any thread; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace medic::agent::tail {

// True when `text` is valid UTF-8 and holds no NUL byte: it can be handed out as it is.
[[nodiscard]] bool is_clean_utf8(std::string_view text) noexcept;
// True when every byte of `text` is ASCII and none is NUL (then every part of it is clean).
// Fast on whole read chunks (16 bytes at a time with SSE2).
[[nodiscard]] bool is_ascii_text(std::string_view text) noexcept;

struct Utf8Repair {
  std::size_t size = 0;          // bytes written to the output
  std::uint64_t replaced = 0;    // U+FFFD written
  std::uint64_t nul_dropped = 0; // NUL bytes left out
  bool truncated = false;        // the output was full before the input ended
};

// Writes the repaired `text` to `out`, stopping at a character boundary when the next character
// does not fit (truncated = true).
[[nodiscard]] Utf8Repair repair_utf8(std::string_view text, std::span<char> out) noexcept;

// The largest n <= limit such that text[0, n) does not end inside a multi-byte sequence that
// continues past n: cutting there never splits a character that was valid.
[[nodiscard]] std::size_t utf8_cut(std::string_view text, std::size_t limit) noexcept;

} // namespace medic::agent::tail
