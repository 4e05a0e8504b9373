// SPDX-License-Identifier: Apache-2.0
// Where a daemon's config came from, so that it can read it again (SIGHUP, a reload request):
// the same file, environment and --set overrides as at start, with the same checks.
#pragma once

#include <functional>
#include <string>

#include "shared/error.hpp"

namespace medic::cli {

template <class Config>
struct ConfigSource {
  std::string path; // the file read at start; empty when there was none (defaults only)
  // Reads and checks the config again (file, environment, overrides, then the program's
  // finish step: rule files are loaded too). Touches no state of the running program: any
  // thread may call it. Empty in tests that run a daemon from a config built in code.
  std::function<Result<Config>()> reload;
};

} // namespace medic::cli
