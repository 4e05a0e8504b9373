// SPDX-License-Identifier: Apache-2.0
#include "shared/security/curve_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include <zmq.h>

namespace medic::security {

namespace {

constexpr std::size_t k_z85_key_size = 40;
constexpr std::size_t k_max_key_file_bytes = 4096;
constexpr std::string_view k_public_prefix = "public-key = ";
constexpr std::string_view k_secret_prefix = "secret-key = ";

// Reads a small file through an fd opened without following symlinks, so the checks below are
// about the file that is read.
Result<std::string> read_small_file(const std::filesystem::path& path, bool must_be_private) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return fail(errno == ENOENT ? ErrorCode::not_found : ErrorCode::io,
                errno_text(path.string(), errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return fail(ErrorCode::io, path.string() + ": not a regular file");
  }
  if (must_be_private && (info.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return fail(ErrorCode::permission,
                path.string() + ": mode " + mode +
                    " lets other users read the secret key; run chmod 600 on it");
  }
  std::string text(k_max_key_file_bytes, '\0');
  const ssize_t n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (n < 0) {
    return fail(ErrorCode::io, errno_text(path.string(), errno));
  }
  text.resize(static_cast<std::size_t>(n));
  return text;
}

std::string find_value(std::string_view text, std::string_view prefix) {
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    if (line.starts_with(prefix)) {
      line.remove_prefix(prefix.size());
      while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
        line.remove_suffix(1);
      }
      return std::string(line);
    }
    start = end + 1;
  }
  return {};
}

Result<void> write_new_file(const std::filesystem::path& path, std::string_view text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    return fail(ErrorCode::io, errno_text("creating " + path.string(), errno));
  }
  // The umask may have narrowed the mode; a .pub file should still be readable by all.
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return fail(ErrorCode::io, errno_text("writing " + path.string(), error));
  }
  return {};
}

} // namespace

bool is_z85_key(std::string_view text) noexcept {
  static constexpr std::string_view k_alphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return text.size() == k_z85_key_size && std::all_of(text.begin(), text.end(), [](char c) {
           return k_alphabet.find(c) != std::string_view::npos;
         });
}

Result<CurveKeyPair> generate_keypair() {
  std::array<char, k_z85_key_size + 1> public_key{};
  std::array<char, k_z85_key_size + 1> secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    return fail(ErrorCode::internal, errno_text("generating a CURVE key pair (is libzmq built "
                                                "with libsodium?)",
                                                zmq_errno()));
  }
  return CurveKeyPair{public_key.data(), secret_key.data()};
}

Result<CurveKeyPair> load_keypair(const std::filesystem::path& path) {
  auto text = read_small_file(path, true);
  if (!text) {
    return fail(std::move(text).error());
  }
  CurveKeyPair pair{find_value(*text, k_public_prefix), find_value(*text, k_secret_prefix)};
  if (!is_z85_key(pair.public_key) || !is_z85_key(pair.secret_key)) {
    return fail(ErrorCode::config, path.string() +
                                       ": not a medic key file (expected lines "
                                       "'public-key = ...' and 'secret-key = ...' "
                                       "with 40-character Z85 keys)");
  }
  return pair;
}

Result<CurveKeyPair> load_or_create_keypair(const std::filesystem::path& path) {
  auto loaded = load_keypair(path);
  if (loaded || loaded.error().code() != ErrorCode::not_found) {
    return loaded;
  }
  if (path.has_parent_path()) {
    std::error_code ec;
    if (std::filesystem::create_directories(path.parent_path(), ec); ec) {
      return fail(ErrorCode::io, "creating " + path.parent_path().string() + ": " + ec.message());
    }
  }
  auto pair = generate_keypair();
  if (!pair) {
    return pair;
  }
  const std::string secret = "# medic CURVE key pair: keep this file secret (mode 0600)\n" +
                             std::string(k_public_prefix) + pair->public_key + "\n" +
                             std::string(k_secret_prefix) + pair->secret_key + "\n";
  if (auto written = write_new_file(path, secret, 0600); !written) {
    return fail(std::move(written).error());
  }
  std::filesystem::path public_path = path;
  public_path += ".pub";
  std::error_code ec;
  std::filesystem::remove(public_path, ec);
  if (auto written = write_new_file(public_path, pair->public_key + "\n", 0644); !written) {
    return fail(std::move(written).error());
  }
  return pair;
}

Result<std::string> resolve_public_key(const std::string& key_or_path) {
  if (is_z85_key(key_or_path)) {
    return key_or_path;
  }
  auto text = read_small_file(key_or_path, false);
  if (!text) {
    return fail(std::move(text).error().context("reading the public key"));
  }
  std::string key = find_value(*text, k_public_prefix);
  if (key.empty()) {
    key = text->substr(0, text->find_first_of("\r\n"));
  }
  if (!is_z85_key(key)) {
    return fail(ErrorCode::config, key_or_path + ": holds no 40-character Z85 public key");
  }
  return key;
}

} // namespace medic::security
