// SPDX-License-Identifier: Apache-2.0
// Opens the Store a storage URL names: the coordinator's `storage.url` setting.
//   sqlite:///var/lib/medic/medic.db    (sqlite:// + absolute path; sqlite:relative.db also works)
//   postgresql://user:pass@host:port/db?sslmode=...   (also postgres://; any libpq URI)
// Called at start-up, before the storage worker takes the store over.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "coordinator/storage/store.hpp"

namespace medic::coordinator::storage {

enum class StoreKind { sqlite, postgres };

// Which backend `url` names, or ErrorCode::config saying which forms are accepted. Only the
// form is checked (no file or connection is opened): for --check-config.
[[nodiscard]] Result<StoreKind> store_kind(std::string_view url);

// The SQLite file path of a sqlite: URL ("sqlite:///a/b.db" -> "/a/b.db").
[[nodiscard]] Result<std::string> sqlite_path(std::string_view url);

// Opens (creating and migrating as needed) the store `url` names. Errors name the URL, with a
// PostgreSQL password replaced by "***".
[[nodiscard]] Result<std::unique_ptr<Store>> open_store(const std::string& url);

} // namespace medic::coordinator::storage
