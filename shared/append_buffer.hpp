// SPDX-License-Identifier: Apache-2.0
// A std::string used as an append-only buffer through a cursor: the first size() bytes are
// written, the rest is room. An append of a few bytes is a bounds check and a copy, not a call
// into std::string::append with its capacity and length bookkeeping. The storage grows by
// doubling (from 256 bytes) and is never shrunk, so a reused buffer stops allocating once it has
// held the largest message. Used by the msgpack encoders and the log token masker.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace medic {

class AppendBuffer {
public:
  AppendBuffer() = default;
  // Takes over `storage` (its bytes count as written, its capacity as room).
  explicit AppendBuffer(std::string storage) noexcept
      : m_storage(std::move(storage)), m_used(m_storage.size()) {}

  void append(const char* data, std::size_t size) {
    if (size == 0) {
      return; // an empty view's data() may be null, which memcpy must not get
    }
    if (m_storage.size() - m_used < size) [[unlikely]] {
      grow(size);
    }
    std::memcpy(m_storage.data() + m_used, data, size);
    m_used += size;
  }
  void append(std::string_view text) { append(text.data(), text.size()); }

  // Room for up to `size` more bytes, written through the returned pointer and then kept with
  // commit(written), written <= size; nothing counts as written until then. For a writer that
  // produces a bounded run piece by piece: one bounds check for the run, not one per piece.
  // The pointer is valid until the next call that may grow the buffer.
  [[nodiscard]] char* room(std::size_t size) {
    if (m_storage.size() - m_used < size) [[unlikely]] {
      grow(size);
    }
    return m_storage.data() + m_used;
  }
  void commit(std::size_t written) noexcept { m_used += written; }

  [[nodiscard]] std::size_t size() const noexcept { return m_used; }
  // Forgets what was written from `size` on (size <= size()).
  void truncate(std::size_t size) noexcept { m_used = std::min(size, m_used); }
  [[nodiscard]] std::string_view view(std::size_t offset, std::size_t size) const noexcept {
    return {m_storage.data() + offset, size};
  }
  // The written bytes as a string of their own, room cut off; this buffer is empty afterwards.
  [[nodiscard]] std::string release() {
    m_storage.resize(m_used);
    m_used = 0;
    return std::move(m_storage);
  }

private:
  void grow(std::size_t size) {
    constexpr std::size_t k_first_bytes = 256;
    m_storage.resize(std::max({m_used + size, m_storage.size() * 2, k_first_bytes}));
  }

  std::string m_storage;
  std::size_t m_used = 0;
};

} // namespace medic
