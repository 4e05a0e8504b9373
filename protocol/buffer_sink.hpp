// SPDX-License-Identifier: Apache-2.0
// Where the encoders' msgpack packer writes: the caller's reused string, as an AppendBuffer for
// the length of one encode (moved in, and back with the room cut off when the sink goes).
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "shared/append_buffer.hpp"

namespace medic::protocol::detail {

class BufferSink {
public:
  explicit BufferSink(std::string& out) noexcept : m_out(out), m_buffer(std::move(out)) {}
  ~BufferSink() { m_out = m_buffer.release(); }
  BufferSink(const BufferSink&) = delete;
  BufferSink& operator=(const BufferSink&) = delete;

  void write(const char* data, std::size_t size) { m_buffer.append(data, size); }

private:
  std::string& m_out;
  AppendBuffer m_buffer;
};

} // namespace medic::protocol::detail
