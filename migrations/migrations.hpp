// SPDX-License-Identifier: Apache-2.0
// Numbered schema migrations compiled into the binary from migrations/<dialect>/NNNN_name.sql by
// cmake/EmbedMigrations.cmake. The definitions are generated at build time.
#pragma once

#include <vector>

#include "shared/sqlite/database.hpp"

namespace medic::migrations {

// The SQLite migrations sorted by version, versions 1..N without gaps (the build checks this).
// The list lives for the whole program; any thread may call.
[[nodiscard]] const std::vector<medic::sqlite::Migration>& sqlite_migrations();

} // namespace medic::migrations
