// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/proc_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

namespace medic::agent::sample {

namespace {

ErrorCode code_for_errno(int error_number) noexcept {
  switch (error_number) {
  case ENOENT:
  case ENOTDIR:
  case ESRCH: return ErrorCode::not_found;
  case EACCES:
  case EPERM: return ErrorCode::permission;
  default: return ErrorCode::io;
  }
}

} // namespace

ProcFile::ProcFile(int fd, std::filesystem::path path, std::size_t capacity,
                   std::unique_ptr<char[]> buffer)
    : m_fd(fd), m_path(std::move(path)), m_capacity(capacity), m_buffer(std::move(buffer)) {}

Result<ProcFile> ProcFile::open(std::filesystem::path path, std::size_t capacity) {
  if (capacity == 0) {
    return fail(ErrorCode::invalid_argument,
                "opening " + path.string() + ": read buffer capacity must be greater than 0");
  }
  // Allocated before open(2) so that a throwing allocation cannot leak the fd.
  auto buffer = std::make_unique_for_overwrite<char[]>(capacity);
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int error_number = errno;
    return fail(code_for_errno(error_number), errno_text("opening " + path.string(), error_number));
  }
  return ProcFile(fd, std::move(path), capacity, std::move(buffer));
}

Result<ProcFile> ProcFile::open_fitting(std::filesystem::path path, std::size_t min_capacity,
                                        std::size_t max_capacity) {
  if (max_capacity < min_capacity) {
    max_capacity = min_capacity;
  }
  auto file = open(std::move(path), min_capacity);
  if (!file) {
    return file;
  }
  for (;;) {
    auto text = file->read();
    if (!text) {
      return fail(std::move(text).error());
    }
    const std::size_t wanted = text->size() * 2;
    if (!file->filled() || file->m_capacity >= max_capacity) {
      if (wanted > file->m_capacity) {
        file->grow(wanted < max_capacity ? wanted : max_capacity);
      }
      return file;
    }
    file->grow(file->m_capacity * 2 < max_capacity ? file->m_capacity * 2 : max_capacity);
  }
}

void ProcFile::grow(std::size_t capacity) {
  if (capacity == 0 || capacity == m_capacity) {
    return;
  }
  m_buffer = std::make_unique_for_overwrite<char[]>(capacity);
  m_capacity = capacity;
  m_length = 0;
}

ProcFile::ProcFile(ProcFile&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)),
      m_path(std::move(other.m_path)),
      m_capacity(std::exchange(other.m_capacity, 0)),
      m_length(std::exchange(other.m_length, 0)),
      m_buffer(std::move(other.m_buffer)),
      m_short_read(other.m_short_read),
      m_preads(other.m_preads) {}

ProcFile& ProcFile::operator=(ProcFile&& other) noexcept {
  if (this != &other) {
    close();
    m_fd = std::exchange(other.m_fd, -1);
    m_path = std::move(other.m_path);
    m_capacity = std::exchange(other.m_capacity, 0);
    m_length = std::exchange(other.m_length, 0);
    m_buffer = std::move(other.m_buffer);
    m_short_read = other.m_short_read;
    m_preads = other.m_preads;
  }
  return *this;
}

ProcFile::~ProcFile() {
  close();
}

void ProcFile::close() noexcept {
  // close(2) errors are ignored: the fd is gone either way (Linux frees it even on EINTR), and
  // nothing was written through it.
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
}

Result<std::string_view> ProcFile::read() {
  if (m_fd < 0) {
    return fail(ErrorCode::internal, "reading a ProcFile that is not open");
  }
  constexpr std::size_t k_page = 4096;
  constexpr std::size_t k_small_line = 512;
  std::size_t length = 0;
  // Loops until end of file or a full buffer; a short read is not end of file for every /proc or
  // /sys file, so only a zero return ends the loop, unless ShortRead says more.
  while (length < m_capacity) {
    const std::size_t asked = m_capacity - length;
    const ssize_t got = ::pread(m_fd, m_buffer.get() + length, asked, static_cast<off_t>(length));
    ++m_preads;
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error_number = errno;
      // ESRCH (the process of a kept /proc/<pid>/stat fd is gone) reads as not_found.
      return fail(code_for_errno(error_number),
                  errno_text("reading " + m_path.string(), error_number));
    }
    if (got == 0) {
      break;
    }
    const auto n = static_cast<std::size_t>(got);
    length += n;
    if (n < asked &&
        (m_short_read == ShortRead::is_the_end ||
         (m_short_read == ShortRead::of_small_lines_is_the_end && n <= k_page - k_small_line))) {
      break;
    }
  }
  m_length = length;
  return std::string_view(m_buffer.get(), length);
}

} // namespace medic::agent::sample
