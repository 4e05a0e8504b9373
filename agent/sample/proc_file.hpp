// SPDX-License-Identifier: Apache-2.0
// A small /proc or /sys file opened once and re-read from offset 0 on every sample, into a buffer
// allocated once at open: sampling on the loop costs one or two pread calls (see ShortRead) and
// no allocation, and no path lookup or open/close per tick.
//
// The buffer bounds what is read. When the file is larger than the capacity, read() returns only
// its first `capacity` bytes and the last line may be cut: the parsers only look at lines near the
// start (the aggregate `cpu` line of /proc/stat, the first keys of /proc/meminfo), so callers size
// the buffer to hold those lines with room to spare and never rely on the tail.
//
// /proc files are generated on each read call. A file that needs more than one pread is not one
// snapshot (later chunks come from a newer generation), another reason to size the buffer so the
// lines that matter arrive in the first call.
//
// Not thread-safe: a ProcFile belongs to one thread (the loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "shared/error.hpp"

namespace medic::agent::sample {

class ProcFile {
public:
  // A closed file; read() on it fails. Lets owners hold a ProcFile before open().
  ProcFile() = default;

  // Fails with not_found / permission / io (message names the path) when open(2) fails, and
  // with invalid_argument when capacity is 0.
  [[nodiscard]] static Result<ProcFile> open(std::filesystem::path path, std::size_t capacity);

  // Opens `path` and sizes the buffer from the file as it is now: twice its length (room for
  // growth: more mounts, devices, processes), at least `min_capacity`, at most `max_capacity`.
  // Reads the file once or a few times to measure it; allocates only here.
  [[nodiscard]] static Result<ProcFile> open_fitting(std::filesystem::path path,
                                                     std::size_t min_capacity,
                                                     std::size_t max_capacity);

  ProcFile(ProcFile&& other) noexcept;
  ProcFile& operator=(ProcFile&& other) noexcept;
  ProcFile(const ProcFile&) = delete;
  ProcFile& operator=(const ProcFile&) = delete;
  ~ProcFile();

  // The file's contents (at most capacity() bytes) from offset 0. The view points into this
  // object's buffer and stays valid until the next read(), a move, or destruction.
  [[nodiscard]] Result<std::string_view> read();

  // What a short pread says about this file, so that read() can stop without one more pread
  // that returns 0 (a system call per file and tick).
  enum class ShortRead {
    // Nothing (the default): read() goes on until a pread returns 0.
    says_nothing,
    // The kernel makes the file as one record (single_open seq files such as /proc/stat,
    // /proc/meminfo, /proc/loadavg and /proc/<pid>/stat): any short read reached the end.
    is_the_end,
    // A seq file of lines under 512 bytes (/proc/diskstats, /proc/net/dev). The kernel stops a
    // read early only when its next line does not fit in its buffer of a page or more, so a
    // read of at most 4096 - 512 bytes reached the end.
    of_small_lines_is_the_end,
  };
  void set_short_read(ShortRead meaning) noexcept { m_short_read = meaning; }
  // pread calls made by read() so far (tests).
  [[nodiscard]] std::uint64_t preads() const noexcept { return m_preads; }

  [[nodiscard]] bool is_open() const noexcept { return m_fd >= 0; }
  // For poll(2) on files that signal changes (/proc/self/mounts); reads go through read().
  [[nodiscard]] int fd() const noexcept { return m_fd; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return m_path; }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }

  // True when the last read() filled the whole buffer: the file may have been cut. Callers that
  // need the whole file grow() (an allocation, so only when the file outgrew the buffer).
  [[nodiscard]] bool filled() const noexcept { return m_length == m_capacity && m_capacity > 0; }

  // Replaces the buffer with one of `capacity` bytes (> 0); the next read() uses it.
  void grow(std::size_t capacity);

private:
  ProcFile(int fd, std::filesystem::path path, std::size_t capacity,
           std::unique_ptr<char[]> buffer);
  void close() noexcept;

  int m_fd = -1;
  std::filesystem::path m_path;
  std::size_t m_capacity = 0;
  std::size_t m_length = 0;
  std::unique_ptr<char[]> m_buffer;
  ShortRead m_short_read = ShortRead::says_nothing;
  std::uint64_t m_preads = 0;
};

} // namespace medic::agent::sample
