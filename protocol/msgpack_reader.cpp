// SPDX-License-Identifier: Apache-2.0
#include "protocol/msgpack_reader.hpp"

#include <bit>
#include <cstring>
#include <string>

namespace medic::protocol::detail {

namespace {

// The kinds peek() tells apart, tested from the first byte alone: the read_* functions check
// these first and leave peek() (a longer switch) for the error path.
constexpr bool is_integer(std::uint8_t b) noexcept {
  return b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3);
}
constexpr bool is_string(std::uint8_t b) noexcept {
  return (b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb);
}
constexpr bool is_container(std::uint8_t b, bool is_map) noexcept {
  return is_map ? ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf)
                : ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd);
}

} // namespace

std::string_view to_string(Kind kind) noexcept {
  switch (kind) {
  case Kind::nil: return "nil";
  case Kind::boolean: return "bool";
  case Kind::integer: return "int";
  case Kind::floating: return "float";
  case Kind::string: return "str";
  case Kind::binary: return "bin";
  case Kind::array: return "array";
  case Kind::map: return "map";
  case Kind::extension: return "ext";
  case Kind::invalid: return "invalid byte";
  }
  return "invalid byte";
}

Kind MsgpackReader::peek() const noexcept {
  if (at_end()) {
    return Kind::invalid;
  }
  const std::uint8_t b = byte_at(0);
  if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) {
    return Kind::integer;
  }
  if (b <= 0x8f || b == 0xde || b == 0xdf) {
    return Kind::map;
  }
  if (b <= 0x9f || b == 0xdc || b == 0xdd) {
    return Kind::array;
  }
  if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb)) {
    return Kind::string;
  }
  switch (b) {
  case 0xc0: return Kind::nil;
  case 0xc2:
  case 0xc3: return Kind::boolean;
  case 0xc4:
  case 0xc5:
  case 0xc6: return Kind::binary;
  case 0xca:
  case 0xcb: return Kind::floating;
  case 0xc7:
  case 0xc8:
  case 0xc9:
  case 0xd4:
  case 0xd5:
  case 0xd6:
  case 0xd7:
  case 0xd8: return Kind::extension;
  default: return Kind::invalid; // 0xc1 is never used
  }
}

std::uint64_t MsgpackReader::big_endian(std::size_t offset, std::size_t width) const noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    // One load and a byte swap for the widths msgpack uses (every sample has an 8-byte double
    // and, usually, an 8-byte time).
    const auto* at = m_bytes.data() + m_pos + offset;
    switch (width) {
    case 1: return byte_at(offset);
    case 2: {
      std::uint16_t value = 0;
      std::memcpy(&value, at, 2);
      return __builtin_bswap16(value);
    }
    case 4: {
      std::uint32_t value = 0;
      std::memcpy(&value, at, 4);
      return __builtin_bswap32(value);
    }
    case 8: {
      std::uint64_t value = 0;
      std::memcpy(&value, at, 8);
      return __builtin_bswap64(value);
    }
    default: break;
    }
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value = (value << 8) | byte_at(offset + i);
  }
  return value;
}

Error MsgpackReader::mismatch(std::string_view expected) const {
  if (at_end()) {
    return Error(ErrorCode::protocol, "expected " + std::string(expected) + ", got end of frame");
  }
  return Error(ErrorCode::protocol,
               "expected " + std::string(expected) + ", got " + std::string(to_string(peek())));
}

Result<std::uint32_t> MsgpackReader::read_container(bool is_map, std::size_t max_items) {
  if (at_end() || !is_container(byte_at(0), is_map)) {
    return fail(mismatch(is_map ? "map" : "array"));
  }
  const std::uint8_t b = byte_at(0);
  std::size_t header = 1;
  std::uint64_t count = 0;
  if ((b & 0xf0) == (is_map ? 0x80 : 0x90)) {
    count = b & 0x0f;
  } else {
    const std::size_t width = (b == 0xdc || b == 0xde) ? 2 : 4;
    if (!has(1 + width)) {
      return fail(ErrorCode::protocol, "truncated container header");
    }
    count = big_endian(1, width);
    header += width;
  }
  if (count > max_items) {
    return fail(ErrorCode::protocol, std::string(is_map ? "map" : "array") + " of " +
                                         std::to_string(count) + " items exceeds the limit of " +
                                         std::to_string(max_items));
  }
  // Every element takes at least one byte: a count the frame cannot hold is a lie.
  const std::uint64_t minimum = count * (is_map ? 2 : 1);
  if (minimum > remaining() - header) {
    return fail(ErrorCode::protocol, std::string(is_map ? "map" : "array") + " claims " +
                                         std::to_string(count) + " items but only " +
                                         std::to_string(remaining() - header) + " bytes remain");
  }
  m_pos += header;
  return static_cast<std::uint32_t>(count);
}

Result<std::uint32_t> MsgpackReader::read_array(std::size_t max_items) {
  return read_container(false, max_items);
}

Result<std::uint32_t> MsgpackReader::read_map(std::size_t max_pairs) {
  return read_container(true, max_pairs);
}

Result<std::string_view> MsgpackReader::read_string(std::size_t max_bytes) {
  if (at_end() || !is_string(byte_at(0))) {
    return fail(mismatch("str"));
  }
  const std::uint8_t b = byte_at(0);
  std::size_t header = 1;
  std::uint64_t length = 0;
  if ((b & 0xe0) == 0xa0) {
    length = b & 0x1f;
  } else {
    const std::size_t width = b == 0xd9 ? 1 : b == 0xda ? 2 : 4;
    if (!has(1 + width)) {
      return fail(ErrorCode::protocol, "truncated string header");
    }
    length = big_endian(1, width);
    header += width;
  }
  if (length > max_bytes) {
    return fail(ErrorCode::protocol, "string of " + std::to_string(length) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(max_bytes));
  }
  if (length > remaining() - header) {
    return fail(ErrorCode::protocol,
                "string of " + std::to_string(length) + " bytes runs past the end of the frame");
  }
  const auto* data = reinterpret_cast<const char*>(m_bytes.data() + m_pos + header);
  m_pos += header + length;
  return std::string_view(data, length);
}

Result<std::uint64_t> MsgpackReader::read_uint() {
  if (at_end() || !is_integer(byte_at(0))) {
    return fail(mismatch("unsigned int"));
  }
  const std::uint8_t b = byte_at(0);
  if (b <= 0x7f) {
    ++m_pos;
    return b;
  }
  if (b >= 0xcc && b <= 0xcf) {
    const std::size_t width = std::size_t{1} << (b - 0xcc);
    if (!has(1 + width)) {
      return fail(ErrorCode::protocol, "truncated integer");
    }
    const std::uint64_t value = big_endian(1, width);
    m_pos += 1 + width;
    return value;
  }
  // A signed encoding is fine when the value is not negative.
  const std::size_t saved = m_pos;
  auto value = read_int();
  if (!value) {
    return fail(std::move(value).error());
  }
  if (*value < 0) {
    m_pos = saved;
    return fail(ErrorCode::protocol, "expected unsigned int, got " + std::to_string(*value));
  }
  return static_cast<std::uint64_t>(*value);
}

Result<std::int64_t> MsgpackReader::read_int() {
  if (at_end() || !is_integer(byte_at(0))) {
    return fail(mismatch("int"));
  }
  const std::uint8_t b = byte_at(0);
  if (b <= 0x7f) {
    ++m_pos;
    return b;
  }
  if (b >= 0xe0) {
    ++m_pos;
    return static_cast<std::int8_t>(b);
  }
  const bool is_signed = b >= 0xd0;
  const std::size_t width = std::size_t{1} << (b - (is_signed ? 0xd0 : 0xcc));
  if (!has(1 + width)) {
    return fail(ErrorCode::protocol, "truncated integer");
  }
  const std::uint64_t raw = big_endian(1, width);
  if (!is_signed) {
    if (raw > static_cast<std::uint64_t>(INT64_MAX)) {
      return fail(ErrorCode::protocol, "integer " + std::to_string(raw) + " does not fit int64");
    }
    m_pos += 1 + width;
    return static_cast<std::int64_t>(raw);
  }
  const unsigned shift = static_cast<unsigned>(64 - 8 * width);
  m_pos += 1 + width;
  // Sign-extend the big-endian two's-complement value of `width` bytes.
  return static_cast<std::int64_t>(raw << shift) >> shift;
}

Result<double> MsgpackReader::read_number() {
  if (has(9) && byte_at(0) == 0xcb) { // float 64: what encoders send for a sample's value
    const std::uint64_t raw = big_endian(1, 8);
    m_pos += 9;
    return std::bit_cast<double>(raw);
  }
  const Kind kind = peek();
  if (kind == Kind::integer) {
    if (byte_at(0) == 0xcf) { // uint64: may exceed int64, still a number
      auto value = read_uint();
      return value.map([](std::uint64_t v) { return static_cast<double>(v); });
    }
    auto value = read_int();
    if (!value) {
      return fail(std::move(value).error());
    }
    return static_cast<double>(*value);
  }
  if (kind != Kind::floating) {
    return fail(mismatch("number"));
  }
  const bool is_double = byte_at(0) == 0xcb;
  const std::size_t width = is_double ? 8 : 4;
  if (!has(1 + width)) {
    return fail(ErrorCode::protocol, "truncated float");
  }
  const std::uint64_t raw = big_endian(1, width);
  m_pos += 1 + width;
  if (is_double) {
    return std::bit_cast<double>(raw);
  }
  return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
}

Result<bool> MsgpackReader::read_bool() {
  if (peek() != Kind::boolean) {
    return fail(mismatch("bool"));
  }
  const bool value = byte_at(0) == 0xc3;
  ++m_pos;
  return value;
}

Result<void> MsgpackReader::skip(std::size_t max_depth) {
  const Kind kind = peek();
  const std::uint8_t b = at_end() ? 0 : byte_at(0);
  switch (kind) {
  case Kind::invalid: return fail(mismatch("a msgpack value"));
  case Kind::nil:
  case Kind::boolean: ++m_pos; return {};
  case Kind::integer: {
    auto value =
        (b >= 0xcc && b <= 0xcf) ? read_uint().map([](auto) {}) : read_int().map([](auto) {});
    return value;
  }
  case Kind::floating: return read_number().map([](auto) {});
  case Kind::string: return read_string(remaining()).map([](auto) {});
  case Kind::binary:
  case Kind::extension: {
    std::size_t header = 0;
    std::uint64_t length = 0;
    if (b >= 0xd4 && b <= 0xd8) { // fixext: type byte + 1..16 data bytes
      header = 2;
      length = std::uint64_t{1} << (b - 0xd4);
    } else {
      const std::size_t width = (b == 0xc4 || b == 0xc7) ? 1 : (b == 0xc5 || b == 0xc8) ? 2 : 4;
      header = 1 + width + (kind == Kind::extension ? 1 : 0);
      if (!has(1 + width)) {
        return fail(ErrorCode::protocol, "truncated bin/ext header");
      }
      length = big_endian(1, width);
    }
    if (!has(header) || length > remaining() - header) {
      return fail(ErrorCode::protocol, "bin/ext runs past the end of the frame");
    }
    m_pos += header + length;
    return {};
  }
  case Kind::array:
  case Kind::map: {
    if (max_depth == 0) {
      return fail(ErrorCode::protocol, "values nested too deeply");
    }
    auto count = kind == Kind::map ? read_map(remaining()) : read_array(remaining());
    if (!count) {
      return fail(std::move(count).error());
    }
    const std::uint64_t items = std::uint64_t{*count} * (kind == Kind::map ? 2 : 1);
    for (std::uint64_t i = 0; i < items; ++i) {
      if (auto skipped = skip(max_depth - 1); !skipped) {
        return skipped;
      }
    }
    return {};
  }
  }
  return fail(mismatch("a msgpack value"));
}

} // namespace medic::protocol::detail
