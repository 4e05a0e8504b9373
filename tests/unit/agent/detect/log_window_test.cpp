// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "agent/detect/log_window.hpp"

using medic::agent::detect::LogCountWindow;
using medic::agent::detect::WindowChange;

TEST_CASE("count in window fires at exactly the threshold-th match", "[logrules]") {
  LogCountWindow window(5, 60'000, 0);
  for (int i = 0; i < 4; ++i) {
    CHECK(window.record(i * 10'000) == WindowChange::none);
  }
  CHECK(window.count() == 4);
  CHECK(window.record(59'999) == WindowChange::fire); // spread over 59.999 s
  CHECK(window.firing());
  CHECK(window.record(60'000) == WindowChange::none); // already firing
}

TEST_CASE("matches spread over 61 s (or exactly 60 s) do not fire", "[logrules]") {
  LogCountWindow spread(5, 60'000, 0);
  for (int i = 0; i < 5; ++i) {
    CHECK(spread.record(i * 15'250) == WindowChange::none); // 0 .. 61 s
  }
  CHECK_FALSE(spread.firing());
  LogCountWindow edge(5, 60'000, 0);
  for (int i = 0; i < 5; ++i) {
    CHECK(edge.record(i * 15'000) == WindowChange::none); // 0 .. 60 s: the first has left
  }
}

TEST_CASE("the window clears once the count stayed below for the quiet period", "[logrules]") {
  LogCountWindow window(3, 10'000, 5'000);
  CHECK(window.record(0) == WindowChange::none);
  CHECK(window.record(1'000) == WindowChange::none);
  CHECK(window.record(2'000) == WindowChange::fire);
  CHECK(window.advance(9'999) == WindowChange::none);
  CHECK(window.advance(10'000) == WindowChange::none); // fell below at 10 s, quiet runs
  CHECK(window.count() == 2);
  CHECK(window.advance(14'999) == WindowChange::none);
  CHECK(window.advance(15'000) == WindowChange::clear);
  CHECK_FALSE(window.firing());
  CHECK(window.advance(60'000) == WindowChange::none);
  CHECK(window.count() == 0);
}

TEST_CASE("a late tick clears from when the count fell, not from the tick", "[logrules]") {
  LogCountWindow window(2, 10'000, 5'000);
  CHECK(window.record(0) == WindowChange::none);
  CHECK(window.record(0) == WindowChange::fire);
  CHECK(window.advance(100'000) == WindowChange::clear);
}

TEST_CASE("back at the threshold during the quiet period keeps firing without a new fire",
          "[logrules]") {
  LogCountWindow window(2, 10'000, 30'000);
  CHECK(window.record(0) == WindowChange::none);
  CHECK(window.record(1'000) == WindowChange::fire);
  CHECK(window.advance(12'000) == WindowChange::none); // below since 10 s
  CHECK(window.record(13'000) == WindowChange::none);
  CHECK(window.record(14'000) == WindowChange::none); // back at 2: stays firing
  CHECK(window.firing());
  CHECK(window.advance(35'000) == WindowChange::none); // below since 23 s, quiet until 53 s
  CHECK(window.advance(53'000) == WindowChange::clear);
}

TEST_CASE("time running backwards is taken as the last time seen", "[logrules]") {
  LogCountWindow window(2, 1'000, 0);
  CHECK(window.record(5'000) == WindowChange::none);
  CHECK(window.record(1'000) == WindowChange::fire); // counted at 5 s
  CHECK(window.advance(0) == WindowChange::none);
  CHECK(window.advance(6'000) == WindowChange::clear);
}
