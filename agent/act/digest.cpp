// SPDX-License-Identifier: Apache-2.0
#include "agent/act/digest.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include <sodium.h>

namespace medic::agent::act {

namespace {

constexpr std::size_t k_chunk = std::size_t{32} * 1024; // on the stack of a threadpool thread

class Fd {
public:
  explicit Fd(int fd) noexcept : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  [[nodiscard]] int get() const noexcept { return m_fd; }

private:
  int m_fd;
};

// sodium_init is idempotent and thread-safe; the static makes it run once per process.
bool sodium_ready() noexcept {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

std::string to_hex(const std::array<unsigned char, crypto_hash_sha256_BYTES>& digest) {
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data(), digest.size() * 2);
}

Result<void> hash_fd(int fd, const std::string& name, std::uint64_t max_bytes,
                     crypto_hash_sha256_state& state) {
  std::array<unsigned char, k_chunk> buffer{};
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return fail(ErrorCode::io, errno_text(name + ": read", errno));
    }
    if (got == 0) {
      return {};
    }
    total += static_cast<std::uint64_t>(got);
    if (total > max_bytes) {
      return fail(ErrorCode::io, name + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    crypto_hash_sha256_update(&state, buffer.data(), static_cast<unsigned long long>(got));
  }
}

} // namespace

Result<std::string> sha256_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  const std::string name = path.string();
  if (!sodium_ready()) {
    return fail(ErrorCode::internal, "libsodium failed to initialise");
  }
  const Fd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    return fail(ErrorCode::io, errno_text(name + ": open", errno));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return fail(ErrorCode::io, errno_text(name + ": fstat", errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return fail(ErrorCode::invalid_argument, name + ": not a regular file");
  }
  if (static_cast<std::uint64_t>(info.st_size) > max_bytes) {
    return fail(ErrorCode::io, name + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  crypto_hash_sha256_state state{};
  crypto_hash_sha256_init(&state);
  if (auto hashed = hash_fd(fd.get(), name, max_bytes, state); !hashed) {
    return fail(std::move(hashed).error());
  }
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(&state, digest.data());
  return to_hex(digest);
}

} // namespace medic::agent::act
