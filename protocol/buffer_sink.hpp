// SPDX-License-Identifier: Apache-2.0
// Where the encoders' msgpack packer writes: the caller's reused string, through a cursor. A
// write of a few bytes (a header, an integer, a float) is a bounds check and a copy, not a call
// into std::string::append with its capacity and length bookkeeping; the string grows by
// doubling and is cut to what was written when the sink goes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

namespace medic::protocol::detail {

class BufferSink {
public:
  explicit BufferSink(std::string& out) noexcept : m_out(out), m_used(out.size()) {}
  ~BufferSink() { m_out.resize(m_used); }
  BufferSink(const BufferSink&) = delete;
  BufferSink& operator=(const BufferSink&) = delete;

  void write(const char* data, std::size_t size) {
    if (size == 0) {
      return; // an empty string's body: its data() may be null, which memcpy must not get
    }
    if (m_out.size() - m_used < size) [[unlikely]] {
      grow(size);
    }
    std::memcpy(m_out.data() + m_used, data, size);
    m_used += size;
  }

private:
  void grow(std::size_t size) {
    constexpr std::size_t k_first_bytes = 256;
    m_out.resize(std::max({m_used + size, m_out.size() * 2, k_first_bytes}));
  }

  std::string& m_out;
  std::size_t m_used; // bytes of m_out written; the rest is room, cut off at the end
};

} // namespace medic::protocol::detail
