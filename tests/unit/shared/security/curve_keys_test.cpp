// SPDX-License-Identifier: Apache-2.0
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "shared/security/curve_keys.hpp"
#include "tests/support/temp_dir.hpp"

using medic::security::is_z85_key;
using medic::test::TempDir;

namespace {

unsigned mode_of(const std::filesystem::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

} // namespace

TEST_CASE("a key pair is created once, private, with a readable .pub beside it") {
  TempDir dir;
  const auto path = dir / "state" / "agent.key";
  auto created = medic::security::load_or_create_keypair(path);
  REQUIRE(created);
  CHECK(is_z85_key(created->public_key));
  CHECK(is_z85_key(created->secret_key));
  CHECK(created->public_key != created->secret_key);
  CHECK(mode_of(path) == 0600);
  CHECK(mode_of(dir / "state" / "agent.key.pub") == 0644);
  CHECK(medic::test::read_file(dir / "state" / "agent.key.pub") == created->public_key + "\n");

  auto again = medic::security::load_or_create_keypair(path);
  REQUIRE(again);
  CHECK(again->public_key == created->public_key);
  CHECK(again->secret_key == created->secret_key);

  // The public key resolves from the key itself, the .pub file, or the key file.
  CHECK(medic::security::resolve_public_key(created->public_key).value() == created->public_key);
  CHECK(medic::security::resolve_public_key((dir / "state" / "agent.key.pub").string()).value() ==
        created->public_key);
  CHECK(medic::security::resolve_public_key(path.string()).value() == created->public_key);
}

TEST_CASE("a key file others can read is refused, saying how to fix it") {
  TempDir dir;
  const auto path = dir / "coordinator.key";
  REQUIRE(medic::security::load_or_create_keypair(path));
  for (const mode_t mode : {0640, 0604, 0644}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    auto loaded = medic::security::load_keypair(path);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().code() == medic::ErrorCode::permission);
    CHECK(loaded.error().message().find("chmod 600") != std::string::npos);
  }
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  CHECK(medic::security::load_keypair(path));
}

TEST_CASE("broken key material is refused with the file named") {
  TempDir dir;
  const auto garbage = dir / "garbage.key";
  medic::test::write_file(garbage, "public-key = short\nsecret-key = also-short\n");
  REQUIRE(::chmod(garbage.c_str(), 0600) == 0);
  auto loaded = medic::security::load_keypair(garbage);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().message().find(garbage.string() + ": not a medic key file") !=
        std::string::npos);

  const auto link = dir / "link.key";
  REQUIRE(::symlink(garbage.c_str(), link.c_str()) == 0);
  CHECK_FALSE(medic::security::load_keypair(link));

  CHECK_FALSE(medic::security::resolve_public_key((dir / "missing.pub").string()));
  CHECK_FALSE(is_z85_key(std::string(40, ' ')));
  CHECK_FALSE(is_z85_key(std::string(39, 'a')));
  CHECK(is_z85_key(std::string(40, 'a')));
}
