// SPDX-License-Identifier: Apache-2.0
// A bounds-checked pull reader over one msgpack buffer. It never allocates: strings come back
// as views into the buffer, and every array or map header is checked against the bytes that
// remain (each element takes at least one byte) before the caller reserves anything.
// msgpack-cxx's object unpacker is not used for decoding because it allocates
// count * sizeof(object) as soon as it reads a header, before it knows the bytes exist.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "shared/error.hpp"

namespace medic::protocol::detail {

enum class Kind { nil, boolean, integer, floating, string, binary, array, map, extension, invalid };

[[nodiscard]] std::string_view to_string(Kind kind) noexcept;

class MsgpackReader {
public:
  explicit MsgpackReader(std::span<const std::byte> bytes) noexcept : m_bytes(bytes) {}

  [[nodiscard]] Kind peek() const noexcept;
  [[nodiscard]] bool at_end() const noexcept { return m_pos == m_bytes.size(); }
  [[nodiscard]] std::size_t remaining() const noexcept { return m_bytes.size() - m_pos; }

  // Each read checks the kind, the bounds and the limit; on failure the position is unchanged.
  [[nodiscard]] Result<std::uint32_t> read_array(std::size_t max_items);
  [[nodiscard]] Result<std::uint32_t> read_map(std::size_t max_pairs);
  [[nodiscard]] Result<std::string_view> read_string(std::size_t max_bytes);
  [[nodiscard]] Result<std::uint64_t> read_uint();
  [[nodiscard]] Result<std::int64_t> read_int();
  // Accepts float 32/64 and integers (a value that happens to be whole may be sent as an int).
  [[nodiscard]] Result<double> read_number();
  [[nodiscard]] Result<bool> read_bool();
  // Skips one whole value (used for unknown map keys), nesting at most `max_depth` levels.
  [[nodiscard]] Result<void> skip(std::size_t max_depth);

private:
  [[nodiscard]] bool has(std::size_t count) const noexcept { return remaining() >= count; }
  [[nodiscard]] std::uint8_t byte_at(std::size_t offset) const noexcept {
    return static_cast<std::uint8_t>(m_bytes[m_pos + offset]);
  }
  [[nodiscard]] std::uint64_t big_endian(std::size_t offset, std::size_t width) const noexcept;
  [[nodiscard]] Result<std::uint32_t> read_container(bool is_map, std::size_t max_items);
  [[nodiscard]] Error mismatch(std::string_view expected) const;

  std::span<const std::byte> m_bytes;
  std::size_t m_pos = 0;
};

} // namespace medic::protocol::detail
