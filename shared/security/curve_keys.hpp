// SPDX-License-Identifier: Apache-2.0
// CURVE key pairs for ZeroMQ, kept in files only their owner may read. A key file holds
//   public-key = <40 Z85 characters>
//   secret-key = <40 Z85 characters>
// and its public half is also written, alone, to <file>.pub so it can be handed out.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "shared/error.hpp"

namespace medic::security {

struct CurveKeyPair {
  std::string public_key; // Z85, 40 characters
  std::string secret_key; // Z85, 40 characters
};

[[nodiscard]] bool is_z85_key(std::string_view text) noexcept;

[[nodiscard]] Result<CurveKeyPair> generate_keypair();

// Refuses a file that is group- or world-readable, a symlink, or not a key file, saying which.
[[nodiscard]] Result<CurveKeyPair> load_keypair(const std::filesystem::path& path);

// Loads the pair, or creates it (mode 0600, directory 0750 if missing) with its .pub (0644).
[[nodiscard]] Result<CurveKeyPair> load_or_create_keypair(const std::filesystem::path& path);

// `key_or_path` is either a Z85 public key itself or a file holding one (a .pub file, or a key
// file whose public-key line is used).
[[nodiscard]] Result<std::string> resolve_public_key(const std::string& key_or_path);

} // namespace medic::security
