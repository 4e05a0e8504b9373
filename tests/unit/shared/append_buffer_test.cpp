// SPDX-License-Identifier: Apache-2.0
#include <cstring>
#include <string>

#include <catch2/catch.hpp>

#include "shared/append_buffer.hpp"

using medic::AppendBuffer;

TEST_CASE("an append buffer keeps what was appended, in order", "[shared]") {
  AppendBuffer buffer;
  buffer.append("abc");
  buffer.append(std::string(1000, 'x'));
  buffer.append("", 0);
  CHECK(buffer.size() == 1003);
  CHECK(buffer.view(0, 4) == "abcx");
  buffer.truncate(2);
  buffer.append("Z");
  CHECK(buffer.release() == "abZ");
  CHECK(buffer.size() == 0);
}

TEST_CASE("room in an append buffer counts only once committed", "[shared]") {
  AppendBuffer buffer;
  buffer.append("head:");
  char* room = buffer.room(5000); // grows: more than the first 256 bytes
  std::memset(room, 'y', 5000);
  CHECK(buffer.size() == 5); // written, not committed
  buffer.commit(3);
  CHECK(buffer.size() == 8);
  CHECK(buffer.view(0, 8) == "head:yyy");
  // Room that is not committed is overwritten by what comes next.
  std::memcpy(buffer.room(2), "zz", 2);
  buffer.append("!");
  CHECK(buffer.view(0, buffer.size()) == "head:yyy!");
}
