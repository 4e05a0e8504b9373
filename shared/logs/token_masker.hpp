// SPDX-License-Identifier: Apache-2.0
// Splits a log message into tokens and masks the parts that vary between lines of one event
// (numbers, hex ids, IPs, UUIDs, dates, times, sizes and durations with their units), so that
// the template miner compares shapes rather than values. Written for the agent's line path: a
// line costs one pass over its bytes plus a hash per token, and nothing is allocated once the
// scratch buffers have grown to the longest line seen.
//
// Masking rules, applied per whitespace-separated token:
// - a token without a digit is kept as is;
// - inside a token, segments between separators (= : , / @ # ( ) [ ] { } | ; " ') that are
//   hex-like (0x..., or >= 5 hex digits/dashes with at least one decimal digit: hashes, UUIDs,
//   dates) or a number with a unit suffix (200ms, 1.5s, 10MB) become `<*>`;
// - any other run of digits (with inner dots and a leading sign) becomes `<*>`:
//   node-17 -> node-<*>, v1.2.3 -> v<*>, blk_-42 -> blk_<*>;
// - a token that is then nothing but `<*>` and punctuation becomes one plain `<*>` (a
//   variable: 10.0.0.1:22, 04:30:30,123, [42]); a unit word after a variable (bytes, KB, B,
//   ms, sec, ...) is dropped, and consecutive variables collapse into one, so "1190 bytes
//   (1.16 KB)" and "0 bytes" both read `<*>`;
// - month and weekday names (Jul, Sun, JUL, July) are date parts, so variables; a time zone
//   after a variable (19:02:14 EST) is dropped like a unit;
// - a masked token repeated right after itself is a list and is kept once: "blk_1 blk_2
//   blk_3" and "blk_4" both read "blk_<*>".
// Each token is also classed (TokenKind) as a symbol, a word or a value.
//
// Not thread-safe: one masker per thread (the agent's loop).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/append_buffer.hpp"

namespace medic::logs {

// The text a masked variable becomes, in token texts and rendered templates.
inline constexpr std::string_view k_wildcard = "<*>";

// What a token looks like, for the template miner: two different words at one position are
// likely two events (start/stop), two different values one event with a variable.
enum class TokenKind : std::uint8_t {
  symbol, // punctuation only: - | *** ==>
  word,   // letters (and punctuation), no digit, no path or dotted name: SPP. user=root
  value,  // has a variable, or is a path (a/b, a\b) or a dotted name (a.b, file.txt)
};

struct MaskedToken {
  std::string_view text; // masked text; valid until the next tokenize() call
  std::uint64_t hash = 0;
  bool has_variable = false; // contains `<*>` (came from a token with digits)
  bool is_variable = false;  // the token is exactly `<*>`
  TokenKind kind = TokenKind::symbol;
};

struct TokenMaskerOptions {
  std::size_t max_tokens = 64;  // tokens past this are folded into one final `<*>`
  std::string extra_delimiters; // characters split on like whitespace, e.g. ",;"
  bool mask_variables = true;   // false: tokens are kept verbatim (for tests and comparisons)
};

class TokenMasker {
public:
  // max_tokens is clamped to at least 2 so that the folded tail token always has a place.
  explicit TokenMasker(TokenMaskerOptions options = {});

  // Tokenizes and masks one message. The returned tokens (and their texts) stay valid until
  // the next call, a move, or destruction.
  [[nodiscard]] std::span<const MaskedToken> tokenize(std::string_view line);

  [[nodiscard]] const TokenMaskerOptions& options() const noexcept { return m_options; }
  // hash_token(k_wildcard): the hash of every plain variable token.
  [[nodiscard]] std::uint64_t wildcard_hash() const noexcept { return m_wildcard_hash; }

private:
  struct Pending {
    std::uint32_t offset = 0; // into the line (in_scratch false) or m_scratch
    std::uint32_t size = 0;
    bool in_scratch = false;
    bool has_variable = false;
    bool is_variable = false;
    TokenKind kind = TokenKind::symbol;
  };

  void push_token(std::string_view line, std::size_t begin, std::size_t end, std::uint8_t seen);
  void push_masked(std::string_view token);
  [[nodiscard]] std::size_t masked_room(std::string_view token) const noexcept;
  char* write_masked(std::string_view token, char* out, bool& literal) const noexcept;
  char* write_digit_runs(std::string_view segment, char* out) const noexcept;
  void push_tail(); // a plain `<*>` variable token
  [[nodiscard]] bool repeats_last(std::size_t offset, std::size_t size) const noexcept;
  [[nodiscard]] std::string_view core_word(std::string_view token) const noexcept;
  [[nodiscard]] bool may_be_date_word(std::string_view token) const noexcept;
  [[nodiscard]] bool absorbed_as_unit(std::string_view token) const noexcept;
  [[nodiscard]] bool is_path_like(std::string_view token) const noexcept;
  [[nodiscard]] std::uint8_t class_of(char c) const noexcept {
    return m_classes[static_cast<unsigned char>(c)];
  }

  TokenMaskerOptions m_options;
  std::array<std::uint8_t, 256> m_classes{};
  AppendBuffer m_scratch;            // the masked texts of this line
  std::uint64_t m_wildcard_hash = 0; // hash_token(k_wildcard)
  std::vector<Pending> m_pending;
  std::vector<MaskedToken> m_tokens;
};

// 64-bit hash of a token's text; stable within a process run.
[[nodiscard]] std::uint64_t hash_token(std::string_view text) noexcept;

} // namespace medic::logs
