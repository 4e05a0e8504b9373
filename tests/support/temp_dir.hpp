// SPDX-License-Identifier: Apache-2.0
// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at scope exit.
#pragma once

#include <filesystem>

namespace medic::test {

class TempDir {
public:
  TempDir();                                             // under $TMPDIR, else /tmp
  explicit TempDir(const std::filesystem::path& parent); // e.g. /dev/shm for a tmpfs directory
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return m_path; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
    return m_path / name;
  }

private:
  std::filesystem::path m_path;
};

// Writes `text` to `path`, replacing it.
void write_file(const std::filesystem::path& path, std::string_view text);
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

} // namespace medic::test
