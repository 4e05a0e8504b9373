// SPDX-License-Identifier: Apache-2.0
// SHA-256 of an executable, for actions that pin the digest of their binary (libsodium).
// Blocking file reads: call from the threadpool, never on the loop.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "shared/error.hpp"

namespace medic::agent::act {

// SHA-256 of a file as 64 lowercase hex, reading at most max_bytes (a larger file, or one that
// grows past it while read, is an error). Symlinks are followed (an exec path often is one);
// anything but a regular file is refused. Thread-safe.
[[nodiscard]] Result<std::string> sha256_file(const std::filesystem::path& path,
                                              std::uint64_t max_bytes = 256ULL << 20);

} // namespace medic::agent::act
