// SPDX-License-Identifier: Apache-2.0
#include <cmath>
#include <cstring>

#include "protocol/decode_fields.hpp"

namespace medic::protocol::detail {

Error at(std::string_view path, Error error) {
  return std::move(error).context(path);
}

bool is_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf) {
      extra = 1;
      code = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      extra = 2;
      code = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      extra = 3;
      code = b & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xc0) != 0x80) {
        return false;
      }
      code = (code << 6) | (c & 0x3f);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10ffff))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

namespace {

struct NameScan {
  bool control = false;   // some byte is below 0x20 or is 0x7f
  bool non_ascii = false; // some byte has its top bit set (UTF-8 must then be checked)
};

// Eight bytes at a time: names are checked once per sample on the coordinator's loop thread.
// Both tests are exact for "is there such a byte in the word" (SWAR, bytes below n with n <= 128;
// a zero byte after xor with 0x7f): a borrow only ever starts at a byte that really matches.
NameScan scan_name(std::string_view text) noexcept {
  constexpr std::uint64_t k_ones = 0x0101010101010101ULL;
  constexpr std::uint64_t k_highs = 0x8080808080808080ULL;
  std::uint64_t control = 0;
  std::uint64_t high = 0;
  const auto step = [&](std::uint64_t word) {
    control |= (word - k_ones * 0x20) & ~word & k_highs;
    const std::uint64_t del = word ^ (k_ones * 0x7f);
    control |= (del - k_ones) & ~del & k_highs;
    high |= word & k_highs;
  };
  // Fixed-size loads only (a variable-length copy into a word costs a call and a stall); the
  // tail and short names are read as overlapping words, since checking a byte twice is harmless.
  const char* data = text.data();
  const std::size_t size = text.size();
  if (size >= 8) {
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, data + i, 8);
      step(word);
    }
    if (i < size) {
      std::uint64_t word = 0;
      std::memcpy(&word, data + size - 8, 8);
      step(word);
    }
  } else if (size >= 4) {
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    std::memcpy(&first, data, 4);
    std::memcpy(&last, data + size - 4, 4);
    step(first | (std::uint64_t{last} << 32));
  } else if (size > 0) {
    // 1 to 3 bytes: the first, the middle and the last, padded with 'a' (neither control nor
    // non-ASCII).
    const auto byte = [&](std::size_t at) {
      return std::uint64_t{static_cast<unsigned char>(data[at])};
    };
    step(((k_ones * 'a') & ~std::uint64_t{0xffffff}) | byte(0) | (byte(size / 2) << 8) |
         (byte(size - 1) << 16));
  }
  return {control != 0, high != 0};
}

} // namespace

Result<std::string_view> read_name(MsgpackReader& reader, std::size_t max_bytes) {
  auto text = reader.read_string(max_bytes);
  if (!text) {
    return text;
  }
  if (text->empty()) {
    return fail(ErrorCode::protocol, "must not be empty");
  }
  const NameScan scan = scan_name(*text);
  if (scan.control) {
    return fail(ErrorCode::protocol, "contains control characters");
  }
  if (scan.non_ascii && !is_utf8(*text)) {
    return fail(ErrorCode::protocol, "is not valid UTF-8");
  }
  return text;
}

Result<bool> name_into(MsgpackReader& reader, std::string& target, std::size_t max_bytes) {
  auto text = read_name(reader, max_bytes);
  if (!text) {
    return fail(std::move(text).error());
  }
  target = *text;
  return true;
}

Result<bool> text_into(MsgpackReader& reader, std::string& target, std::size_t max_bytes) {
  auto text = reader.read_string(max_bytes);
  if (!text) {
    return fail(std::move(text).error());
  }
  target = *text;
  return true;
}

Result<bool> int_into(MsgpackReader& reader, std::int64_t& target) {
  auto value = reader.read_int();
  if (!value) {
    return fail(std::move(value).error());
  }
  target = *value;
  return true;
}

Result<bool> pairs_into(MsgpackReader& reader, std::vector<Label>& target, std::size_t max_pairs,
                        std::size_t max_value_bytes) {
  auto count = reader.read_map(max_pairs);
  if (!count) {
    return fail(std::move(count).error());
  }
  // Assigned in place: a reused target keeps its strings' capacity.
  target.resize(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto name = read_name(reader, Limits::k_max_name_bytes);
    if (!name) {
      return fail(at("name", std::move(name).error()));
    }
    auto value = reader.read_string(max_value_bytes);
    if (!value) {
      return fail(at("'" + std::string(*name) + "'", std::move(value).error()));
    }
    target[i].name = *name;
    target[i].value = *value;
  }
  return true;
}

Result<bool> strings_into(MsgpackReader& reader, std::vector<std::string>& target,
                          std::size_t max_items) {
  auto count = reader.read_array(max_items);
  if (!count) {
    return fail(std::move(count).error());
  }
  target.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto text = read_name(reader, Limits::k_max_label_value_bytes);
    if (!text) {
      return fail(at("[" + std::to_string(i) + "]", std::move(text).error()));
    }
    target.emplace_back(*text);
  }
  return true;
}

Result<bool> optional_int_into(MsgpackReader& reader, std::optional<std::int64_t>& target) {
  std::int64_t value = 0;
  auto read = int_into(reader, value);
  if (read) {
    target = value;
  }
  return read;
}

Result<bool> labels_into(MsgpackReader& reader, std::vector<Label>& target) {
  return pairs_into(reader, target, Limits::k_max_labels, Limits::k_max_label_value_bytes);
}

Result<bool> number_into(MsgpackReader& reader, double& target) {
  auto value = reader.read_number();
  if (!value) {
    return fail(std::move(value).error());
  }
  if (!std::isfinite(*value)) {
    return fail(ErrorCode::protocol, "must be a finite number");
  }
  target = *value;
  return true;
}

} // namespace medic::protocol::detail
