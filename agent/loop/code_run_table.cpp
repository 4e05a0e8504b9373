// SPDX-License-Identifier: Apache-2.0
// The executable's code runs (see code_fence.hpp): empty here, written after the static agent's
// link. In a translation unit of its own so that the readers cannot assume it stays empty.
#include "agent/loop/code_fence.hpp"

extern "C" const medic::agent::loop::CodeRunTable medic_code_runs = {
    "medic-code-runs", 0, medic::agent::loop::CodeRunTable::k_capacity, {}};
