// SPDX-License-Identifier: Apache-2.0
// The one translation unit that builds Catch2's runner; kept alone so it compiles once.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
