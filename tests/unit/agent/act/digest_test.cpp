// SPDX-License-Identifier: Apache-2.0
#include "agent/act/digest.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <array>
#include <cstdio>

#include "tests/support/temp_dir.hpp"

using namespace medic::agent::act;

namespace {

// The first word of `sha256sum <path>` (coreutils), or "" when it cannot run.
std::string sha256sum(const std::filesystem::path& path) {
  const std::string command = "sha256sum '" + path.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 65> hex{};
  const std::size_t got = std::fread(hex.data(), 1, 64, pipe);
  ::pclose(pipe);
  return std::string(hex.data(), got);
}

} // namespace

TEST_CASE("sha256_file hashes a file as lowercase hex", "[act][digest]") {
  medic::test::TempDir dir;
  // printf 'hello medic\n' | sha256sum
  medic::test::write_file(dir / "hello", "hello medic\n");
  auto digest = sha256_file(dir / "hello");
  REQUIRE(digest);
  CHECK(*digest == "839f8398c90dd5ae34d1fee0e2ddfadd38eac50b485231dcb8d59d0417da88d8");
  medic::test::write_file(dir / "empty", "");
  CHECK(sha256_file(dir / "empty").value() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Larger than one read chunk: 100000 'a's.
  medic::test::write_file(dir / "big", std::string(100'000, 'a'));
  CHECK(sha256_file(dir / "big").value() ==
        "6d1cf22d7cc09b085dfc25ee1a1f3ae0265804c607bc2074ad253bcc82fd81ee");
  // And the same as coreutils says, for a file spanning several chunks with an odd tail.
  std::string odd;
  for (int i = 0; i < 70'001; ++i) {
    odd += static_cast<char>(i * 7 % 251);
  }
  medic::test::write_file(dir / "odd", odd);
  CHECK(sha256_file(dir / "odd").value() == sha256sum(dir / "odd"));
}

TEST_CASE("sha256_file refuses what it should not read", "[act][digest]") {
  medic::test::TempDir dir;
  CHECK(sha256_file(dir / "missing").error().message().find("open") != std::string::npos);
  CHECK(sha256_file(dir.path()).error().message().find("not a regular file") != std::string::npos);
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  CHECK(sha256_file(dir / "fifo").error().message().find("not a regular file") !=
        std::string::npos);
  medic::test::write_file(dir / "ten", "0123456789");
  CHECK(sha256_file(dir / "ten", 9).error().message().find("larger than 9 bytes") !=
        std::string::npos);
  CHECK(sha256_file(dir / "ten", 10));
}
